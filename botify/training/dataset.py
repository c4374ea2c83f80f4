"""Event logs turned into what the models learn from: sessions, transitions and matrices.

Log semantics: an event ``(user, track, time, recommendation)`` says the user
listened to ``track`` for the fraction ``time`` and was then recommended ``recommendation``; the
user's next event in the session has ``track`` equal to that recommendation. A ``last`` event closes
the session.
So the consecutive events ``i`` and ``i + 1`` of a session give a transition
``(prev = track[i], next = track[i + 1], time = time[i + 1])``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from botify.errors import DataError
from botify.events import MESSAGE, TIME, TIMESTAMP, TRACK, USER, read_events

SESSION = "session"
PREV = "prev"
NEXT = "next"

# An interaction listened to more than this fraction is a positive.
POSITIVE_THRESHOLD = 0.8

_MESSAGES = ("next", "last")


def load_events(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Read event logs and check the fields the models rely on.

    Args:
        paths: log files and directories (rotated files included), see ``botify.events``.

    Returns:
        The events with columns ``message, timestamp, user, track, time`` (and the reader's others).

    Raises:
        DataError: no paths, no events, malformed lines, or values out of range.
    """
    paths = list(paths)
    if not paths:
        raise DataError("no event logs given")
    frame = read_events(paths)
    unknown = ~frame[MESSAGE].isin(_MESSAGES)
    if unknown.any():
        bad = frame.loc[unknown, MESSAGE].iloc[0]
        raise DataError(f"the event logs hold an unknown message {bad!r} (expected next or last)")
    times = frame[TIME].to_numpy()
    if not np.all((times >= 0.0) & (times <= 1.0)):
        raise DataError("the event logs hold a time outside [0, 1]")
    if (frame[USER] < 0).any() or (frame[TRACK] < 0).any():
        raise DataError("the event logs hold a negative user or track id")
    return frame


def session_events(events: pd.DataFrame) -> pd.DataFrame:
    """Order events by user and time and number their sessions, keeping every event.

    A user's session accumulates events in timestamp order until a ``last`` event closes it (as
    in the A/B analysis, whose ``botify.analysis.sessions.sessionize`` sums each closed session
    into one row instead). Ties in timestamp keep file order.

    Returns:
        Columns ``user, track, time, timestamp, session`` sorted by ``(user, timestamp)``;
        ``session`` counts from 0 over the whole log.
    """
    frame = events[[USER, TRACK, TIME, TIMESTAMP, MESSAGE]].sort_values(
        [USER, TIMESTAMP], kind="stable"
    )
    users = frame[USER].to_numpy()
    is_last = (frame[MESSAGE] == "last").to_numpy(dtype=bool)
    starts = np.ones(len(frame), dtype=bool)
    if len(frame) > 1:
        starts[1:] = (users[1:] != users[:-1]) | is_last[:-1]
    out = frame.drop(columns=[MESSAGE]).reset_index(drop=True)
    out[SESSION] = np.cumsum(starts) - 1
    return out


def transitions(sessions: pd.DataFrame) -> pd.DataFrame:
    """Consecutive pairs within sessions.

    Args:
        sessions: the output of :func:`session_events`.

    Returns:
        Columns ``prev, next, time, user, session, timestamp`` (the later event's time, timestamp).
    """
    session = sessions[SESSION].to_numpy()
    same = session[1:] == session[:-1]
    tracks = sessions[TRACK].to_numpy()
    return pd.DataFrame(
        {
            PREV: tracks[:-1][same],
            NEXT: tracks[1:][same],
            TIME: sessions[TIME].to_numpy()[1:][same],
            USER: sessions[USER].to_numpy()[1:][same],
            SESSION: session[1:][same],
            TIMESTAMP: sessions[TIMESTAMP].to_numpy()[1:][same],
        }
    )


def split_by_time(
    sessions: pd.DataFrame, test_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A holdout by time: whole sessions that start at or after a cutoff go to the test part.

    The cutoff is the ``1 - test_fraction`` quantile of the event timestamps, so roughly that
    fraction of the events is held out and no session is cut in two.

    Args:
        sessions: the output of :func:`session_events`.
        test_fraction: the share of events to hold out, in (0, 1).

    Returns:
        ``(train, test)``, both in the layout of :func:`session_events`.

    Raises:
        DataError: the fraction is out of range or one of the parts would be empty.
    """
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"the test fraction must be in (0, 1), got {test_fraction}")
    cutoff = np.quantile(sessions[TIMESTAMP].to_numpy(), 1.0 - test_fraction)
    start = sessions.groupby(SESSION, sort=False)[TIMESTAMP].transform("min").to_numpy()
    in_test = start >= cutoff
    train, test = sessions[~in_test], sessions[in_test]
    if train.empty or test.empty:
        raise DataError(
            "the holdout by time leaves no training or no test sessions (too few sessions)"
        )
    return train.reset_index(drop=True), test.reset_index(drop=True)


@dataclass(frozen=True)
class IdIndex:
    """Dense indices for sparse ids (track and user ids may have gaps)."""

    ids: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> IdIndex:
        """The index of the distinct values, in ascending id order."""
        return cls(np.unique(np.asarray(values, dtype=np.int64)))

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Dense indices of ``values``; -1 for ids not in the index."""
        values = np.asarray(values, dtype=np.int64)
        if len(self.ids) == 0:
            return np.full(values.shape, -1, dtype=np.int64)
        pos = np.searchsorted(self.ids, values)
        pos = np.minimum(pos, len(self.ids) - 1)
        return np.where(self.ids[pos] == values, pos, -1)


def positives(events: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The events listened to longer than ``threshold`` (implicit positive feedback).

    Raises:
        ValueError: none is.
    """
    positive = events[events[TIME] > threshold]
    if positive.empty:
        raise ValueError(f"no listen above {threshold}: nothing to learn from")
    return positive


def interaction_matrix(
    sessions: pd.DataFrame,
    users: IdIndex,
    tracks: IdIndex,
    threshold: float = POSITIVE_THRESHOLD,
) -> sp.csr_matrix:
    """The implicit user-track matrix: how often each user listened to each track past threshold.

    Args:
        sessions: events (any frame with ``user, track, time``).
        users: the row index; users not in it are dropped.
        tracks: the column index; tracks not in it are dropped.
        threshold: a listen counts when ``time > threshold``.

    Returns:
        A ``len(users) x len(tracks)`` float32 CSR matrix of positive counts.
    """
    positive = sessions[TIME].to_numpy() > threshold
    rows = users.lookup(sessions[USER].to_numpy()[positive])
    cols = tracks.lookup(sessions[TRACK].to_numpy()[positive])
    keep = (rows >= 0) & (cols >= 0)
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], cols[keep])),
        shape=(len(users), len(tracks)),
    )
    matrix.sum_duplicates()
    return matrix
