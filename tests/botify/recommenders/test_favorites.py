"""Favorites: like bookkeeping both ways, the anchor, the other user, every fallback."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from botify.store.sessions import end_session


@pytest.fixture()
def favorites(build, artifacts):
    return build("favorites")


def like(recommender, redis_client, user: int, *tracks: int) -> None:
    """``user`` listens to each track fully (a like), then ends the session."""
    for track in tracks:
        recommender.recommend_next(user, track, 1.0)
    end_session(redis_client, user)


def test_a_like_is_recorded_in_both_directions(favorites):
    favorites.recommend_next(1, 7, 0.8)  # at the threshold: a like
    favorites.recommend_next(1, 8, 0.79)  # below: not a like
    favorites.recommend_next(2, 7, 1.0)
    assert favorites.liked_tracks(1) == [7]
    assert favorites.liked_tracks(2) == [7]
    assert favorites.liking_users(7) == [2, 1]  # most recent first
    assert favorites.liking_users(8) == []


def test_sets_are_bounded_keeping_the_most_recent(build, artifacts):
    favorites = build("favorites", max_set=3)
    for track in (40, 41, 42, 43):
        favorites.recommend_next(1, track, 1.0)
    for user in (2, 3, 4, 5):
        favorites.recommend_next(user, 40, 1.0)
    assert favorites.liked_tracks(1) == [43, 42, 41]
    assert favorites.liking_users(40) == [5, 4, 3]


def test_likes_expire(build, artifacts, redis_client):
    favorites = build("favorites", ttl=100)
    favorites.recommend_next(1, 7, 1.0)
    assert 0 < redis_client.ttl(favorites.user_key(1)) <= 100
    assert 0 < redis_client.ttl(favorites.track_key(7)) <= 100


def test_liked_previous_track_is_the_anchor_and_another_liker_s_like_is_recommended(
    favorites, redis_client
):
    like(favorites, redis_client, 2, 0, 45)
    # User 1 likes 0: the only other liker is 2, who also liked 45.
    assert favorites.recommend_next(1, 0, 1.0) == 45


def test_not_liked_previous_track_anchors_on_a_liked_one(favorites, redis_client):
    like(favorites, redis_client, 1, 30)
    like(favorites, redis_client, 2, 30, 46)
    # 50 is skipped (0.1): the anchor is 30, user 1's only like; 2 liked it too, and 46.
    assert favorites.recommend_next(1, 50, 0.1) == 46


def test_the_other_user_is_uniform_and_never_oneself(favorites, redis_client):
    for other, extra in [(2, 45), (3, 46), (4, 47)]:
        like(favorites, redis_client, other, 0, extra)
    answers = []
    for _ in range(300):
        answers.append(favorites.recommend_next(1, 0, 1.0))
        end_session(redis_client, 1)
    counts = [answers.count(t) for t in (45, 46, 47)]
    assert sum(counts) == 300
    assert stats.chisquare(counts).pvalue > 1e-3


def test_nobody_else_liked_the_anchor_gives_its_contextual_list(favorites):
    # ranker: 30 -> [31, 32, 33]
    assert favorites.recommend_next(3, 30, 1.0) in {31, 32, 33}


def test_other_user_with_nothing_new_gives_what_they_would_be_recommended(
    favorites, redis_client
):
    like(favorites, redis_client, 2, 0)
    # 2 liked only the anchor; its per-user list (multidae) is [20, 21].
    assert favorites.recommend_next(1, 0, 1.0) == 20


def test_no_contextual_list_for_the_anchor_gives_indexed_for_the_user(favorites):
    # 50 is liked by nobody else and has no ranker list: user 1's multidae list [10, 11, 12].
    assert favorites.recommend_next(1, 50, 1.0) == 10
    assert favorites.recommend_next(1, 10, 0.1) == 11


def test_no_likes_gives_indexed_for_the_user(favorites):
    assert favorites.recommend_next(1, 50, 0.1) == 10


def test_no_likes_and_no_list_gives_a_popular_track(build, artifacts):
    favorites = build("favorites", top=3)
    prev, answers = 50, set()
    for _ in range(3):
        prev = favorites.recommend_next(9, prev, 0.1)  # skipped: never a like, never heard twice
        answers.add(prev)
    assert answers == {0, 1, 2}


def test_the_threshold_is_configurable(build, artifacts):
    favorites = build("favorites", threshold=0.3)
    favorites.recommend_next(1, 7, 0.3)
    assert favorites.liked_tracks(1) == [7]


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "high"])
def test_a_bad_threshold_is_a_config_error(build, threshold):
    from botify.errors import ConfigError

    with pytest.raises(ConfigError, match="threshold"):
        build("favorites", threshold=threshold)


def test_answers_never_repeat_heard_tracks_even_from_likes(favorites, redis_client):
    like(favorites, redis_client, 2, 0, 45, 46)
    answers = [favorites.recommend_next(1, 0, 1.0)]
    answers.append(favorites.recommend_next(1, answers[-1], 1.0))
    assert sorted(answers) == [45, 46]
    assert np.all(np.array(answers) != 0)
