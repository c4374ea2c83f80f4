"""The metrics the analysis compares, declared once: which way each is better, and its unit.

Per-user means (:data:`columns.METRICS`) weigh every user equally; the session-level ratios of
:mod:`~botify.analysis.ratio` weigh every session equally and are shown beside their per-user
counterparts. The report's colors, the guardrails' harmful side and the decisions all read
:data:`BETTER`.
"""

from __future__ import annotations

from botify.analysis import columns as col
from botify.analysis.ratio import RATIO_TIME_PER_SESSION, RATIO_TRACKS_PER_SESSION, RATIOS
from botify.errors import ConfigError

HIGHER_BETTER = "higher"
LOWER_BETTER = "lower"
BETTER = {
    col.TIME: HIGHER_BETTER,
    col.SESSIONS: HIGHER_BETTER,
    col.MEAN_REQUEST_LATENCY: LOWER_BETTER,
    col.MEAN_TRACKS_PER_SESSION: HIGHER_BETTER,
    col.MEAN_TIME_PER_SESSION: HIGHER_BETTER,
    RATIO_TRACKS_PER_SESSION: HIGHER_BETTER,
    RATIO_TIME_PER_SESSION: HIGHER_BETTER,
}
UNITS = {col.MEAN_REQUEST_LATENCY: "ms"}
"""The unit of a metric's differences where it has one (absolute guardrail margins are in it)."""
PRIMARY = col.MEAN_TIME_PER_SESSION
"""The metric the decisions are about, unless told otherwise."""
BESIDE = {RATIO_TRACKS_PER_SESSION: col.MEAN_TRACKS_PER_SESSION,
          RATIO_TIME_PER_SESSION: col.MEAN_TIME_PER_SESSION}
"""Each ratio metric's per-user counterpart, which its rows follow."""


def check_metric(metric: str, what: str = "metric") -> str:
    """``metric`` if it is known.

    Raises:
        ConfigError: naming ``what`` it was given as, and the known metrics.
    """
    if metric not in BETTER:
        raise ConfigError(f"unknown {what} {metric!r} (known: {', '.join(BETTER)})")
    return metric


def ordered(metrics: list[str]) -> list[str]:
    """``metrics`` with every ratio moved right after its per-user counterpart (when present)."""
    plain = [m for m in metrics if m not in RATIOS]
    for ratio in (m for m in metrics if m in RATIOS):
        after = BESIDE[ratio]
        plain.insert(plain.index(after) + 1 if after in plain else len(plain), ratio)
    return plain
