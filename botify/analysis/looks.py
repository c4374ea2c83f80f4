"""Looks: the primary metric's comparison as it stood at several moments of the experiment.

At each look the log is cut at a moment (events before it only: sessions still open then are not
counted, as at the end) and analyzed again; the table shows the effect with its fixed-horizon
interval, valid for one look decided in advance, and the always-valid one, valid at every look at
once. Stopping at the first look where the fixed interval excludes 0 is what the always-valid
interval is for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from botify.analysis import columns as col
from botify.errors import ConfigError

DAY_MS = 86_400_000
DAILY = "day"
"""``--looks day``: a look at every UTC midnight within the experiment, and one at its end."""

LOOK = "look"
UNTIL = "until"
LOOK_COLUMNS = (
    LOOK, UNTIL, col.TREATMENT, col.RECOMMENDER, col.CONTROL_USERS, col.TREATMENT_USERS,
    col.EFFECT, col.LOWER, col.UPPER, col.SEQ_LOWER, col.SEQ_UPPER, col.P_VALUE_HOLM,
    col.SEQ_P_VALUE_HOLM, col.REASON,
)


def parse_looks(text: str | int | None, where: str = "--looks") -> int | str | None:
    """``N`` (equal slices of the experiment's time, 1 to 100) or ``day``.

    Raises:
        ConfigError: anything else.
    """
    if text is None:
        return None
    if isinstance(text, str) and text.strip().lower() == DAILY:
        return DAILY
    try:
        n = int(text)
    except (TypeError, ValueError):
        n = 0
    if isinstance(text, bool) or not 1 <= n <= 100 or str(text).strip() != str(n):
        raise ConfigError(f"{where}: must be a number of looks from 1 to 100 or 'day', got "
                          f"{text!r}")
    return n


def cuts(timestamps: np.ndarray, looks: int | str) -> list[int]:
    """The moments of the looks (epoch ms, exclusive): ``looks`` equal slices of the span of
    ``timestamps``, or every UTC midnight inside it; the last always takes every event."""
    start, end = int(np.min(timestamps)), int(np.max(timestamps)) + 1
    if looks == DAILY:
        first = (start // DAY_MS + 1) * DAY_MS
        inner = list(range(first, end, DAY_MS))
    else:
        inner = [start + round((end - start) * k / looks) for k in range(1, int(looks))]
    return sorted({*(c for c in inner if start < c < end), end})


def look_table(
    timestamps: np.ndarray,
    moments: Sequence[int],
    analyze_until: Callable[[np.ndarray], pd.DataFrame],
) -> pd.DataFrame:
    """The primary metric's effects at each look.

    Args:
        timestamps: the experiment's events' timestamps.
        moments: the looks' moments (:func:`cuts`).
        analyze_until: given which events to keep, the primary metric's effects rows
            (:data:`columns.ALL_EFFECT_COLUMNS`, with the always-valid columns).

    Returns:
        Columns :data:`LOOK_COLUMNS`, by look then treatment.
    """
    frames = []
    for number, until in enumerate(moments, 1):
        keep = np.asarray(timestamps) < until
        effects = analyze_until(keep)
        frames.append(effects.assign(**{LOOK: number, UNTIL: int(until)}))
    if not frames:
        return pd.DataFrame(columns=list(LOOK_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(LOOK_COLUMNS)]

