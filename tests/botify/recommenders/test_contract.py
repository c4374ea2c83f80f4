"""The contract every recommender fulfils, run against each of them.

A recommender returns a catalog track id, falls back when its data is missing, and, where it
promises so, never repeats a track of the session. (Across service processes: test_processes.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from botify.store.sessions import end_session
from tests.botify.recommenders.conftest import RECOMMENDERS, TRACKS, artist_of

ALL = sorted(RECOMMENDERS)
# The ones built on data with a fallback of their own.
WITH_FALLBACK = ["contextual", "favorites", "hybrid", "i2i", "indexed", "indexed_random", "top_pop"]
# The ones that promise never to recommend a track already played in the session.
NO_REPEATS = ["favorites", "hybrid", "i2i", "indexed"]


def play(recommender, user: int, first: int, steps: int, rng: np.random.Generator) -> list[int]:
    """A session as the simulator plays it: each answer is the next track, heard a random time."""
    tracks = [first]
    prev, time = first, 1.0
    for _ in range(steps):
        prev = recommender.recommend_next(user, prev, time)
        tracks.append(prev)
        time = float(rng.choice([0.0, 0.3, 0.75, 0.9, 1.0]))
    return tracks


@pytest.mark.parametrize("name", ALL)
def test_returns_a_catalog_track(name, build, artifacts):
    recommender = build(name)
    rng = np.random.default_rng(1)
    for user, first in [(1, 0), (2, 5), (3, 30), (4, 40), (5, 59)]:
        tracks = play(recommender, user, first, 12, rng)
        assert all(type(t) is int for t in tracks)
        assert set(tracks) <= TRACKS


@pytest.mark.parametrize("name", WITH_FALLBACK)
def test_falls_back_when_its_data_is_missing(name, build):
    # No artifact is loaded: the answer must come from the configured fallback, which here is
    # sticky_artist, so it is another track by the previous track's artist.
    recommender = build(name, fallback="sticky_artist")
    for user, prev in [(1, 0), (3, 50), (7, 23)]:
        answer = recommender.recommend_next(user, prev, 1.0)
        assert answer in TRACKS and answer != prev
        assert artist_of(answer) == artist_of(prev)


@pytest.mark.parametrize("name", ALL)
def test_answers_without_any_data_or_fallback_named(name, build):
    recommender = build(name)
    assert set(play(recommender, 3, 50, 10, np.random.default_rng(2))) <= TRACKS


@pytest.mark.parametrize("with_data", [True, False], ids=["data", "no-data"])
@pytest.mark.parametrize("name", NO_REPEATS)
def test_never_repeats_a_track_of_the_session(name, with_data, build, request):
    if with_data:
        request.getfixturevalue("artifacts")
    recommender = build(name)
    rng = np.random.default_rng(3)
    for user, first in [(1, 0), (2, 5), (3, 30), (4, 40)]:
        tracks = play(recommender, user, first, 40, rng)
        assert len(set(tracks)) == len(tracks), tracks


def test_a_new_session_may_repeat_what_the_last_one_played(build, artifacts, redis_client):
    recommender = build("indexed")
    assert [recommender.recommend_next(1, 50, 1.0) for _ in range(3)] == [10, 11, 12]
    end_session(redis_client, 1)
    assert recommender.recommend_next(1, 50, 1.0) == 10


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_answers(name, build, artifacts, redis_client):
    runs = []
    for _ in range(2):
        for user in (1, 2, 3):
            end_session(redis_client, user)
        redis_client.delete(*(redis_client.keys("botify:favorites:*") or ["-"]))
        recommender = build(name, seed=11)
        rng = np.random.default_rng(4)
        runs.append([play(recommender, u, f, 8, rng) for u, f in [(1, 0), (2, 30), (3, 40)]])
    assert runs[0] == runs[1]
