"""SASRec: a planted answer, determinism by seed, the embeddings' layout, degenerate logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.errors import ConfigError, DataError
from botify.events import MESSAGE, TIME, TIMESTAMP, TRACK, USER
from botify.training.dataset import session_events
from botify.training.model import TrainData
from botify.training.models.sasrec import EMBEDDINGS_NAME, USER_LISTS, SASRecModel
from botify.training.pipeline import TrainSettings, fit_model

# Small and quick; enough epochs for the planted pairs.
FAST = {"dim": 16, "blocks": 1, "heads": 1, "max_len": 12, "epochs": 40, "batch_size": 16,
        "lr": 0.01, "negatives": 32}
N_PAIRS, GROUPS, N_USERS = 12, 2, 120


def _events(users: list[int], tracks: list[int], times: list[float]) -> pd.DataFrame:
    """Events in the log's layout; each user's events are one session, in list order."""
    frame = pd.DataFrame({USER: users, TRACK: tracks, TIME: times})
    frame[TIMESTAMP] = np.arange(len(frame), dtype=np.int64)
    user = frame[USER].to_numpy()
    last = np.append(user[1:] != user[:-1], True)[: len(frame)]
    frame[MESSAGE] = np.where(last, "last", "next")
    return frame


def _pairs_log(seed: int = 0, ids=lambda t: t) -> tuple[pd.DataFrame, dict[int, int]]:
    """Tracks in pairs, the pairs in two groups: the first of a pair is always followed by the
    second, which is followed by the first of a random pair of the group. Each user plays a few
    pairs of one group; every other user then plays the first of a pair of it they have not
    played. Returns the events and, for those users, the track their list should start with.
    """
    rng = np.random.default_rng(seed)
    users, tracks, expected = [], [], {}
    per_group = N_PAIRS // GROUPS
    for user in range(N_USERS):
        played = int(rng.integers(2, per_group - 1))
        pairs = (user % GROUPS) * per_group + rng.permutation(per_group)[: played + 1]
        for pair in pairs[:-1]:
            tracks += [ids(2 * pair), ids(2 * pair + 1)]
        users += [user] * 2 * played
        if user % 4 < 2:  # the others end on a whole pair: a history may end on either track
            tracks.append(ids(2 * pairs[-1]))
            users.append(user)
            expected[user] = ids(2 * pairs[-1] + 1)
    return _events(users, tracks, [1.0] * len(tracks)), expected


def _group(track: int) -> int:
    return track // 2 // (N_PAIRS // GROUPS)


def _fit(events: pd.DataFrame, seed: int = 0, **overrides):
    settings = TrainSettings(models=["sasrec"], seed=seed, progress=False, track_k=5, user_k=5,
                             sasrec={**FAST, **overrides})
    model, artifacts = fit_model(SASRecModel, settings, TrainData(session_events(events)))
    return model.estimator, artifacts


@pytest.fixture(scope="module")
def pairs():
    events, expected = _pairs_log()
    return events, expected, _fit(events)


def test_a_track_nearest_tracks_are_of_its_group(pairs):
    _, _, (_, artifacts) = pairs
    lists = artifacts["sasrec"].as_dict()
    assert sorted(lists) == list(range(2 * N_PAIRS))
    same = [[_group(t) == _group(track) for t in items[:3]] for track, items in lists.items()]
    assert np.mean(same) >= 0.8  # random: 11 of the 23 other tracks
    assert all(track not in items for track, items in lists.items())


def test_a_user_list_starts_with_the_second_of_the_pair_last_started(pairs):
    events, expected, (_, artifacts) = pairs
    lists = artifacts[USER_LISTS].as_dict()
    assert sorted(lists) == list(range(N_USERS))
    heard = events.groupby(USER)[TRACK].agg(set)
    hits = [lists[user][0] == track for user, track in expected.items()]
    assert np.mean(hits) >= 0.95
    for user, items in lists.items():
        assert not set(items.tolist()) & heard[user], user


def test_the_loss_goes_down(pairs):
    _, _, (sasrec, _) = pairs
    assert sasrec.losses[-1] < 0.5 * sasrec.losses[0]


def test_embeddings_are_float32_rows_by_track_id():
    # Track ids with gaps: row t of the matrix is track t's vector, the other rows zero.
    events, _ = _pairs_log(ids=lambda t: 7 * t + 3)
    sasrec, artifacts = _fit(events, epochs=2)
    embeddings = artifacts[EMBEDDINGS_NAME]
    ids = 7 * np.arange(2 * N_PAIRS) + 3
    assert embeddings.vectors.dtype == np.float32
    assert embeddings.vectors.shape == (ids.max() + 1, FAST["dim"])
    assert embeddings.tracks.tolist() == ids.tolist()
    np.testing.assert_array_equal(embeddings.vectors[ids], sasrec.item_vectors())
    others = np.setdiff1d(np.arange(ids.max() + 1), ids)
    assert not embeddings.vectors[others].any()
    assert (np.abs(embeddings.vectors[ids]).sum(axis=1) > 0).all()
    assert set(artifacts["sasrec"].keys.tolist()) == set(ids.tolist())


def _all(artifacts):
    out = {name: list(a.records()) for name, a in artifacts.items() if name != EMBEDDINGS_NAME}
    return out, artifacts[EMBEDDINGS_NAME].vectors


def test_deterministic_for_a_seed_and_the_seed_matters():
    events, _ = _pairs_log(seed=3)
    lists, vectors = _all(_fit(events, epochs=3)[1])
    again_lists, again_vectors = _all(_fit(events, epochs=3)[1])
    assert lists == again_lists
    np.testing.assert_array_equal(vectors, again_vectors)
    _, other_vectors = _all(_fit(events, seed=1, epochs=3)[1])
    assert not np.array_equal(vectors, other_vectors)


@pytest.mark.parametrize(
    ("users", "tracks", "times", "match"),
    [
        ([], [], [], "no events"),
        ([0, 1, 2], [5, 6, 7], [1.0, 1.0, 1.0], "no user has two events"),
        ([0, 0, 1, 1], [5, 6, 7, 8], [1.0, 0.3, 0.9, 0.8], r"no user has two events listened past"),
    ],
    ids=["empty", "one event per user", "no positive next track"],
)
def test_degenerate_logs_are_a_clear_error(users, tracks, times, match):
    with pytest.raises(DataError, match=f"the event logs cannot train sasrec: {match}"):
        _fit(_events(users, tracks, times))


def test_bad_settings_are_a_clear_error():
    events, _ = _pairs_log()
    with pytest.raises(ConfigError, match=r"the settings of sasrec: dim \(10\) must be a multiple"):
        _fit(events, dim=10, heads=4)
    with pytest.raises(ConfigError,
                       match="the settings of sasrec: max_len must be at least 1, got 0"):
        _fit(events, max_len=0)
