"""``botify dashboard``: a live web page of a running experiment, following its event log.

:mod:`~botify.dashboard.follow` reads only the bytes the log files gained since the last look,
:mod:`~botify.dashboard.state` keeps the closed sessions and the open ones incrementally and
computes the page's numbers with :mod:`botify.analysis`'s functions, :mod:`~botify.dashboard.app`
serves the page (plain JavaScript and inline SVG shipped in ``static/``) and its JSON.
"""
