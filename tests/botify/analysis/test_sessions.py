"""Sessionization and per-user metrics: a hand-worked example and a row-by-row reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.analysis import columns as col
from botify.analysis.sessions import (
    session_length_over_time,
    sessionize,
    sessionize_events,
    user_metrics,
)
from botify.analysis.synthetic import generate_events

# user, timestamp, message, time, latency (s); shuffled on purpose: order comes from timestamps.
HAND = [
    (1, 300, "last", 0.25, 0.030),
    (2, 150, "last", 1.0, 0.002),
    (1, 100, "next", 1.0, 0.010),
    (1, 600, "next", 1.0, 0.005),  # after the last `last`: an open session, not counted
    (1, 500, "last", 0.0, 0.003),
    (1, 200, "next", 0.5, 0.020),
    (1, 400, "next", 1.0, 0.001),
]


def _hand_sessions():
    user, timestamp, message, time, latency = (np.array(c) for c in zip(*HAND, strict=True))
    return sessionize(
        user, np.full(len(user), "C"), timestamp, message == "last", time, latency
    )


def test_sessions_of_the_hand_worked_example():
    found = _hand_sessions()
    table = found.table
    assert table[col.USER].tolist() == [1, 1, 2]
    assert table[col.SESSION_START].tolist() == [100, 400, 150]
    assert table[col.TRACKS].tolist() == [3, 2, 1]
    np.testing.assert_allclose(table[col.TIME], [1.75, 1.0, 1.0])
    np.testing.assert_allclose(table[col.LATENCY], [60.0, 4.0, 2.0])  # milliseconds
    assert (found.open_sessions, found.open_events) == (1, 1)


def test_user_metrics_of_the_hand_worked_example():
    users = user_metrics(_hand_sessions().table).set_index(col.USER)
    one, two = users.loc[1], users.loc[2]
    assert (one[col.SESSIONS], one[col.TRACKS]) == (2, 5)
    assert one[col.TIME] == pytest.approx(2.75)
    assert one[col.MEAN_REQUEST_LATENCY] == pytest.approx(64 / 5)
    assert one[col.MEAN_TRACKS_PER_SESSION] == pytest.approx(2.5)
    assert one[col.MEAN_TIME_PER_SESSION] == pytest.approx(1.375)
    assert two[col.MEAN_REQUEST_LATENCY] == pytest.approx(2.0)
    assert two[col.MEAN_TIME_PER_SESSION] == pytest.approx(1.0)


def test_a_treatment_change_splits_sessions_like_the_course_groupby():
    # The course sessionizes per (user, treatment): events of two treatments never share one.
    found = sessionize(
        np.array([1, 1, 1]), np.array(["C", "T1", "C"]), np.array([1, 2, 3]),
        np.array([False, True, True]), np.array([1.0, 1.0, 1.0]), np.zeros(3),
    )
    assert found.table[[col.TREATMENT, col.TRACKS]].values.tolist() == [["C", 2], ["T1", 1]]


def _reference(events: pd.DataFrame, treatment: np.ndarray) -> pd.DataFrame:
    """Row by row, the course's way (a dict of running sessions per user and treatment)."""
    frame = events.assign(treatment=treatment).reset_index(drop=True)
    frame = frame.iloc[np.lexsort((frame.index, frame["timestamp"]))]
    running: dict = {}
    rows = []
    for row in frame.itertuples(index=False):
        key = (row.user, row.treatment)
        session = running.setdefault(key, [row.timestamp, 0, 0.0, 0.0])
        session[1] += 1
        session[2] += row.time
        session[3] += row.latency * 1000
        if row.message == "last":
            rows.append((row.user, row.treatment, *running.pop(key)))
    names = [col.USER, col.TREATMENT, col.SESSION_START, col.TRACKS, col.TIME, col.LATENCY]
    table = pd.DataFrame(rows, columns=names)
    return table.sort_values([col.USER, col.TREATMENT, col.SESSION_START]).reset_index(drop=True)


def test_vectorized_sessions_equal_a_row_by_row_reference():
    events = generate_events(300, recommenders=("a", "b", "c"), open_sessions=0.3, seed=11)
    # Coarse timestamps force ties between users; shuffle so file order is not time order.
    events["timestamp"] //= 100_000
    events = events.sample(frac=1.0, random_state=1).reset_index(drop=True)
    treatment = np.array([e["AB"] for e in events["experiments"]], dtype=object)
    found = sessionize_events(events, treatment).table.reset_index(drop=True)
    expected = _reference(events, treatment)
    assert len(found) == len(expected) > 500
    pd.testing.assert_frame_equal(found, expected, check_dtype=False, rtol=1e-12)


def test_empty_input_gives_empty_tables():
    found = sessionize(*(np.array([]) for _ in range(6)))
    assert found.table.empty and found.open_sessions == 0
    assert user_metrics(found.table).empty
    assert session_length_over_time(found.table).empty


def test_session_length_over_time_bins_every_session():
    sessions = sessionize_events(generate_events(200, seed=2)).table
    over_time = session_length_over_time(sessions, bins=6)
    assert over_time[col.SESSIONS].sum() == len(sessions)
    assert over_time[col.SESSION_START].is_monotonic_increasing
    weighted = (over_time[col.TIME] * over_time[col.SESSIONS]).sum() / len(sessions)
    assert weighted == pytest.approx(sessions[col.TIME].mean())
