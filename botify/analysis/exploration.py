"""Summaries for exploring an event log: popularity, sessions, listened time, recommenders."""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify import events as ev
from botify.analysis import columns as col

PLAYS = "plays"
LISTENED = "listened"
MEAN_TIME = "mean_time"
EVENTS = "events"
USERS = "users"


def log_summary(events: pd.DataFrame, sessions: pd.DataFrame) -> pd.Series:
    """Counts that describe a log: events, users, tracks, closed sessions, time span."""
    span_ms = int(events[ev.TIMESTAMP].max() - events[ev.TIMESTAMP].min()) if len(events) else 0
    return pd.Series(
        {
            EVENTS: len(events),
            USERS: events[ev.USER].nunique(),
            "tracks": events[ev.TRACK].nunique(),
            col.SESSIONS: len(sessions),
            "hours": round(span_ms / 3_600_000, 2),
            MEAN_TIME: float(events[ev.TIME].mean()) if len(events) else np.nan,
        }
    )


def track_popularity(events: pd.DataFrame) -> pd.DataFrame:
    """Per track: plays, total listened time and its mean, most played first.

    Returns:
        Columns ``track, plays, listened, mean_time``.
    """
    table = (
        events.groupby(ev.TRACK, sort=False)[ev.TIME]
        .agg(["size", "sum", "mean"])
        .set_axis([PLAYS, LISTENED, MEAN_TIME], axis=1)
        .sort_values([PLAYS, LISTENED], ascending=False)
        .reset_index()
    )
    return table


def by_recommender(events: pd.DataFrame) -> pd.DataFrame:
    """Per recommender that served the events: events, users and the mean listened fraction."""
    return (
        events.groupby(ev.RECOMMENDER, dropna=False)
        .agg(events=(ev.TIME, "size"), users=(ev.USER, "nunique"), mean_time=(ev.TIME, "mean"))
        .sort_values(EVENTS, ascending=False)
        .reset_index()
    )


def top_share(popularity: pd.DataFrame, share: float = 0.01) -> float:
    """The share of all plays that go to the most played ``share`` of tracks."""
    plays = np.sort(popularity[PLAYS].to_numpy())[::-1]
    if plays.sum() == 0:
        return float("nan")
    top = max(int(round(len(plays) * share)), 1)
    return float(plays[:top].sum() / plays.sum())
