"""Artist fatigue from the logs: how listen time falls with each further track of one artist.

Within a session, each listen has a count ``k``: how many tracks by the same artist were played
before it in that session. The mean listen time of the listens with count ``k`` falls with ``k``;
fitting ``log(mean time) = a + k log(penalty)`` over the counts ``1..max_count`` observed often
enough gives the factor by which one more track of the artist multiplies the expected time. The
counts start at 1, not 0: the first track of an artist in a session is often the one the session
started from or one picked for another reason, so its mean is not on the same line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from botify.errors import DataError
from botify.events import TIME, TRACK
from botify.training.catalog import TrackCatalog
from botify.training.dataset import SESSION

# A count enters the fit only with at least this many listens.
MIN_LISTENS = 100


@dataclass(frozen=True)
class Fatigue:
    """The fitted artist penalty.

    Attributes:
        penalty: the factor per further track of one artist (``exp`` of the fitted slope).
        counts: the counts ``k`` that entered the fit.
        mean_times: the mean listen time at each of them.
        listens: how many listens each mean is over.
    """

    penalty: float
    counts: tuple[int, ...]
    mean_times: tuple[float, ...]
    listens: tuple[int, ...]


def artist_counts(sessions: pd.DataFrame, catalog: TrackCatalog) -> np.ndarray:
    """Per event (in ``sessions`` order), the earlier listens of its artist in its session; -1
    for tracks the catalog does not know."""
    _, artist, _ = catalog.codes(sessions[TRACK].to_numpy())
    frame = pd.DataFrame({"session": sessions[SESSION].to_numpy(), "artist": artist})
    counts = frame.groupby(["session", "artist"], sort=False).cumcount().to_numpy()
    return np.where(artist >= 0, counts, -1)


def fit_fatigue(
    sessions: pd.DataFrame, catalog: TrackCatalog, max_count: int = 6,
    min_listens: int = MIN_LISTENS,
) -> Fatigue:
    """Fit the artist penalty (see the module docstring).

    Args:
        sessions: sessionized events (``botify.training.dataset.session_events``).
        catalog: the tracks' artists.
        max_count: the largest count fitted.
        min_listens: a count enters the fit only with this many listens.

    Raises:
        DataError: fewer than two counts have enough listens, or a mean time is zero.
    """
    counts = artist_counts(sessions, catalog)
    times = sessions[TIME].to_numpy(dtype=np.float64)
    ks, means, sizes = [], [], []
    for k in range(1, max_count + 1):
        chosen = counts == k
        size = int(chosen.sum())
        if size >= min_listens:
            ks.append(k)
            means.append(float(times[chosen].mean()))
            sizes.append(size)
    if len(ks) < 2:
        raise DataError(
            f"too few repeated artists in the logs to fit the artist penalty: fewer than two "
            f"counts 1..{max_count} have {min_listens} listens"
        )
    if min(means) <= 0:
        raise DataError("the listens after a repeated artist all have time 0")
    slope, _ = np.polyfit(ks, np.log(means), 1, w=np.sqrt(sizes))
    return Fatigue(float(min(1.0, np.exp(slope))), tuple(ks), tuple(means), tuple(sizes))
