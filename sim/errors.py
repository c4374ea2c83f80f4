"""Exception class of the simulator (a ``BotifyError``: shown without a traceback)."""

from __future__ import annotations

from botify.errors import BotifyError


class SimError(BotifyError):
    """A user error of the simulator: a missing or malformed world, an unreachable service, ..."""
