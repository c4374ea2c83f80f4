"""Events to sessions, transitions, holdout and matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.errors import DataError
from botify.events import read_events
from botify.training.dataset import (
    NEXT,
    PREV,
    SESSION,
    IdIndex,
    interaction_matrix,
    load_events,
    session_events,
    split_by_time,
    transitions,
)


def _events(rows):
    return pd.DataFrame(rows, columns=["message", "timestamp", "user", "track", "time"])


def test_sessions_and_transitions_by_hand():
    # user 1: session (10 -> 11 -> 12, last), then (13 -> 14, open); user 2 interleaved in time.
    events = _events(
        [
            ("next", 1, 1, 10, 1.0),
            ("next", 2, 2, 20, 1.0),
            ("next", 3, 1, 11, 0.5),
            ("last", 4, 1, 12, 0.9),
            ("last", 5, 2, 21, 0.3),
            ("next", 6, 1, 13, 1.0),
            ("next", 7, 1, 14, 0.2),
        ]
    )
    sessions = session_events(events)
    assert sessions["track"].tolist() == [10, 11, 12, 13, 14, 20, 21]
    assert sessions[SESSION].tolist() == [0, 0, 0, 1, 1, 2, 2]
    pairs = transitions(sessions)
    got = list(zip(pairs[PREV], pairs[NEXT], pairs["time"], strict=True))
    assert got == [(10, 11, 0.5), (11, 12, 0.9), (13, 14, 0.2), (20, 21, 0.3)]


def test_transitions_follow_the_recommendations(events, sessions):
    """In a served log, the next track of a session is the previous event's recommendation."""
    ordered = events.sort_values(["user", "timestamp"], kind="stable").reset_index(drop=True)
    pairs = transitions(sessions)
    follows = ordered["recommendation"].to_numpy()[:-1]
    same = sessions[SESSION].to_numpy()[1:] == sessions[SESSION].to_numpy()[:-1]
    assert np.array_equal(follows[same].astype(np.int64), pairs[NEXT].to_numpy())
    assert sessions[SESSION].nunique() == int((events["message"] == "last").sum())


def test_holdout_keeps_sessions_whole_and_is_by_time(holdout):
    train, test = holdout
    assert not set(train[SESSION]) & set(test[SESSION])
    first_test = test.groupby(SESSION)["timestamp"].min().min()
    assert train.groupby(SESSION)["timestamp"].min().max() < first_test
    share = len(test) / (len(train) + len(test))
    assert 0.15 < share < 0.25


def test_holdout_rejects_a_bad_fraction(sessions):
    with pytest.raises(DataError, match="fraction"):
        split_by_time(sessions, 1.0)


def test_interaction_matrix_counts_positives(sessions):
    users, tracks = IdIndex.of(sessions["user"]), IdIndex.of(sessions["track"])
    matrix = interaction_matrix(sessions, users, tracks, 0.8)
    expected = sessions[sessions["time"] > 0.8].groupby(["user", "track"]).size()
    assert matrix.nnz == len(expected)
    for (user, track), count in expected.sample(50, random_state=0).items():
        assert matrix[users.lookup([user])[0], tracks.lookup([track])[0]] == count


def test_id_index_with_gaps():
    index = IdIndex.of(np.array([40, 7, 7, 1000]))
    assert index.lookup(np.array([7, 40, 1000, 8, 5000, 0])).tolist() == [0, 1, 2, -1, -1, -1]


def test_rotated_logs_read_back_in_order(log_dir, events):
    assert len(list(log_dir.iterdir())) == 3
    read = read_events([log_dir])
    assert read["timestamp"].tolist() == events["timestamp"].tolist()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no log files"),
        (b"", "no events"),
        (b'{"message": "next"\n', "not JSON"),
        (b'{"message": "next", "timestamp": 1}\n', "missing field"),
        (
            b'{"message": "next", "timestamp": 1, "user": 1, "track": 2, "time": 1.5,'
            b' "latency": 0.1}\n',
            "outside",
        ),
        (
            b'{"message": "skip", "timestamp": 1, "user": 1, "track": 2, "time": 0.5,'
            b' "latency": 0.1}\n',
            "unknown message",
        ),
    ],
    ids=["empty-dir", "empty-file", "not-json", "missing-field", "time-range", "message"],
)
def test_bad_logs_are_data_errors(tmp_path, content, message):
    if content is not None:
        (tmp_path / "data.jsonl").write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_events([tmp_path])


def test_no_logs_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no event logs"):
        load_events([])
    with pytest.raises(DataError, match="no such file"):
        load_events([tmp_path / "missing"])
