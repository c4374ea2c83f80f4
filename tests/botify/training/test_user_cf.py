"""The user-based CF model on hand-made logs whose right answer is known."""

from __future__ import annotations

import pandas as pd
import pytest

from botify.errors import DataError
from botify.registry import MODELS
from botify.store.artifacts import PER_USER
from botify.training.model import TrainData
from botify.training.models.user_cf import UserCF
from botify.training.pipeline import TrainSettings, fit_model

# Two groups of six users and six tracks each. Group A likes its even tracks (0.9) and not its odd
# ones (0.3); group B the other way round. User i of a group hears all the group's tracks but its
# i-th and (i+1)-th: one liked and one disliked track are left to recommend.
GROUPS = {"a": (range(0, 6), range(0, 6), 0), "b": (range(10, 16), range(100, 106), 1)}


def _log(rows):
    frame = pd.DataFrame(rows, columns=["user", "track", "time"])
    frame["timestamp"] = range(len(frame))
    frame["session"] = frame["user"]
    return frame


def _two_groups():
    rows = []
    for users, tracks, liked_parity in GROUPS.values():
        tracks = list(tracks)
        for i, user in enumerate(users):
            missing = {tracks[i], tracks[(i + 1) % 6]}
            for j, track in enumerate(tracks):
                if track not in missing:
                    rows.append((user, track, 0.9 if j % 2 == liked_parity else 0.3))
    return _log(rows)


def _fit(sessions, **settings):
    settings = TrainSettings(models=["user_cf"], progress=False, **settings)
    model, artifacts = fit_model(MODELS.get("user_cf"), settings, TrainData(sessions))
    return model, artifacts["user_cf"]


def test_registered_per_user_and_trained_by_default():
    cls = MODELS.get("user_cf")
    assert (cls.name, cls.kind, cls.default) == ("user_cf", PER_USER, True)
    assert "user_cf" in TrainSettings().models


def test_each_user_gets_its_groups_liked_unheard_track():
    sessions = _two_groups()
    _, lists = _fit(sessions)
    heard = sessions.groupby("user")["track"].agg(set).to_dict()
    got = {user: items.tolist() for user, items in lists.as_dict().items()}
    assert set(got) == set(heard)
    for users, tracks, liked_parity in GROUPS.values():
        tracks = list(tracks)
        for i, user in enumerate(users):
            unheard = [tracks[i], tracks[(i + 1) % 6]]
            liked = [t for t in unheard if tracks.index(t) % 2 == liked_parity]
            # Only the own group's tracks, nothing heard, and the disliked one left out.
            assert got[user] == liked, user
            assert not set(got[user]) & heard[user]


def test_k_neighbours_and_chunks():
    sessions = _two_groups()
    _, lists = _fit(sessions, user_k=1)
    assert all(len(items) == 1 for items in lists.items)
    whole = UserCF(n_neighbors=2, chunk=256, progress=False).fit(sessions).recommendations()
    one_by_one = UserCF(n_neighbors=2, chunk=1, progress=False).fit(sessions).recommendations()
    assert list(whole.records()) == list(one_by_one.records())
    assert list(whole.records()) == list(
        UserCF(n_neighbors=2, progress=False).fit(sessions).recommendations().records()
    )


def test_a_user_with_constant_times_gets_no_list():
    sessions = pd.concat([_two_groups(), _log([(99, 0, 0.5), (99, 2, 0.5), (99, 100, 0.5)])])
    _, lists = _fit(sessions)
    assert 99 not in lists.as_dict()
    assert len(lists) == 12


@pytest.mark.parametrize(
    "rows",
    [
        [(1, 0, 0.9), (1, 1, 0.2), (1, 2, 0.5)],  # a single user
        [(1, 0, 0.4), (1, 1, 0.4), (2, 1, 0.7), (2, 2, 0.7), (3, 0, 1.0)],  # constant times
    ],
    ids=["single user", "constant times"],
)
def test_degenerate_logs_are_a_data_error(rows):
    with pytest.raises(DataError, match="cannot train user_cf: no two users have a positive"):
        _fit(_log(rows))


def test_no_events_is_a_data_error():
    with pytest.raises(DataError, match="cannot train user_cf: no events"):
        _fit(_log([]))
