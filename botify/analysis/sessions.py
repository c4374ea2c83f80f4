"""Sessionization of the event log and the per-user session metrics, vectorized.

The course's definitions, exactly: per user (and treatment), in timestamp order, a session
accumulates events until a ``last`` event closes it; a session counts its events (``tracks``), sums
their listened fractions (``time``) and their latencies in milliseconds (``latency``). Events after
a user's last ``last`` belong to a session still open; like the course, they are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from botify import events as ev
from botify.analysis import columns as col

USER_SUMS = (col.SESSIONS, col.TRACKS, col.TIME, col.LATENCY)


@dataclass(frozen=True)
class Sessions:
    """The sessions of a log: the closed ones as a table, and how many events were left open."""

    table: pd.DataFrame
    open_sessions: int
    open_events: int


def sessionize(
    user: np.ndarray,
    treatment: np.ndarray,
    timestamp: np.ndarray,
    is_last: np.ndarray,
    time: np.ndarray,
    latency: np.ndarray,
) -> Sessions:
    """Cut events into sessions.

    Args:
        user: the user of every event.
        treatment: the user's treatment at the event (any values; sessions never span two).
        timestamp: epoch milliseconds; ties keep the input (file) order.
        is_last: True for ``last`` events, which close a session.
        time: the listened fraction.
        latency: seconds spent serving the request.

    Returns:
        The closed sessions, columns ``user, treatment, timestamp`` (of the first event),
        ``tracks, time, latency`` (ms), ordered by user, treatment and time.
    """
    n = len(user)
    if n == 0:
        empty = pd.DataFrame(
            {
                col.USER: np.array([], np.int64),
                col.TREATMENT: np.array([], object),
                col.SESSION_START: np.array([], np.int64),
                col.TRACKS: np.array([], np.int64),
                col.TIME: np.array([], np.float64),
                col.LATENCY: np.array([], np.float64),
            }
        )
        return Sessions(empty, 0, 0)
    codes, labels = pd.factorize(np.asarray(treatment), sort=True)
    user = np.asarray(user, dtype=np.int64)
    timestamp = np.asarray(timestamp, dtype=np.int64)
    order = np.lexsort((timestamp, codes, user))  # stable: equal timestamps keep file order
    user_s, codes_s = user[order], codes[order]
    last_s = np.asarray(is_last, dtype=bool)[order]

    start = np.empty(n, dtype=bool)
    start[0] = True
    start[1:] = (user_s[1:] != user_s[:-1]) | (codes_s[1:] != codes_s[:-1]) | last_s[:-1]
    starts = np.flatnonzero(start)
    ends = np.append(starts[1:], n) - 1
    closed = last_s[ends]

    time_sums = np.add.reduceat(np.asarray(time, dtype=np.float64)[order], starts)
    # Milliseconds per event, then summed, as the course does (row["latency"] * 1000).
    latency_sums = np.add.reduceat(np.asarray(latency, dtype=np.float64)[order] * 1000, starts)
    tracks = ends - starts + 1
    keep = starts[closed]
    table = pd.DataFrame(
        {
            col.USER: user_s[keep],
            col.TREATMENT: labels[codes_s[keep]],
            col.SESSION_START: timestamp[order][keep],
            col.TRACKS: tracks[closed],
            col.TIME: time_sums[closed],
            col.LATENCY: latency_sums[closed],
        }
    )
    return Sessions(table, int((~closed).sum()), int(tracks[~closed].sum()))


def sessionize_events(events: pd.DataFrame, treatment: np.ndarray | None = None) -> Sessions:
    """:func:`sessionize` over an event table (as :func:`botify.events.read_events` returns).

    Args:
        events: the event log.
        treatment: the treatment of every event; all events in one group ``"all"`` when None.
    """
    if treatment is None:
        treatment = np.full(len(events), "all", dtype=object)
    return sessionize(
        events[ev.USER].to_numpy(),
        treatment,
        events[ev.TIMESTAMP].to_numpy(),
        (events[ev.MESSAGE] == "last").to_numpy(dtype=bool, na_value=False),
        events[ev.TIME].to_numpy(dtype=np.float64),
        events[ev.LATENCY].to_numpy(dtype=np.float64),
    )


def user_metrics(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per user and treatment: the sums over sessions and the session metrics.

    Args:
        sessions: a table from :func:`sessionize` (ordered by user and treatment).

    Returns:
        Columns ``user, treatment, sessions, tracks, time, latency`` and the metrics
        ``mean_request_latency`` (latency / tracks, ms), ``mean_tracks_per_session``,
        ``mean_time_per_session``; ``time`` and ``sessions`` are metrics too.
    """
    users = sessions[col.USER].to_numpy()
    treatments = sessions[col.TREATMENT].to_numpy()
    n = len(users)
    if n == 0:
        return pd.DataFrame(columns=[col.USER, col.TREATMENT, *USER_SUMS, *col.METRICS[2:]])
    change = np.empty(n, dtype=bool)
    change[0] = True
    change[1:] = (users[1:] != users[:-1]) | (treatments[1:] != treatments[:-1])
    starts = np.flatnonzero(change)
    count = np.diff(np.append(starts, n))
    tracks = np.add.reduceat(sessions[col.TRACKS].to_numpy(), starts)
    time = np.add.reduceat(sessions[col.TIME].to_numpy(), starts)
    latency = np.add.reduceat(sessions[col.LATENCY].to_numpy(), starts)
    return pd.DataFrame(
        {
            col.USER: users[starts],
            col.TREATMENT: treatments[starts],
            col.SESSIONS: count,
            col.TRACKS: tracks,
            col.TIME: time,
            col.LATENCY: latency,
            col.MEAN_REQUEST_LATENCY: latency / tracks,
            col.MEAN_TRACKS_PER_SESSION: tracks / count,
            col.MEAN_TIME_PER_SESSION: time / count,
        }
    )


def session_length_over_time(sessions: pd.DataFrame, bins: int = 24) -> pd.DataFrame:
    """Mean session time per treatment in equal time bins over the log's span.

    Returns:
        Columns ``treatment, timestamp`` (bin start, epoch ms), ``sessions``, ``time`` (mean
        session time), ``time_se`` (its standard error) and ``tracks`` (mean tracks per session).
    """
    start = sessions[col.SESSION_START].to_numpy()
    if len(start) == 0:
        return pd.DataFrame(columns=list(col.OVER_TIME_COLUMNS))
    low, high = int(start.min()), int(start.max()) + 1
    width = max((high - low) / bins, 1.0)
    index = np.minimum(((start - low) / width).astype(np.int64), bins - 1)
    grouped = (
        sessions.assign(_bin=index)
        .groupby([col.TREATMENT, "_bin"], sort=True)
        .agg(
            sessions=(col.TIME, "size"),
            time=(col.TIME, "mean"),
            time_sd=(col.TIME, "std"),
            tracks=(col.TRACKS, "mean"),
        )
        .reset_index()
    )
    grouped[col.SESSION_START] = (low + grouped["_bin"] * width).astype(np.int64)
    grouped[col.TIME_SE] = grouped["time_sd"] / np.sqrt(grouped[col.SESSIONS])
    return grouped[list(col.OVER_TIME_COLUMNS)]
