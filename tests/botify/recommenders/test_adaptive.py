"""Adaptive: planted sessions whose best next track is known (skips, artist fatigue, the query over
embeddings, exploration), on the test world of ``conftest``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from botify.store.artifacts import load_artifact
from botify.store.sessions import end_session
from tests.botify.recommenders.conftest import N_TRACKS, RECOMMENDERS, write_jsonl

# Artists are t // 6: 0 and 1 are artist 0; 10 is 1; 20 and 24 are 3 and 4; 30 is 5; 36 is 6;
# 43 and 44 are 7; 49 is 8; 50 is 8 too.
LISTS = [
    {"track": 0, "recommendations": [10, 20, 30]},
    {"track": 1, "recommendations": [20, 30]},
    {"track": 2, "recommendations": [20, 10]},
    {"track": 3, "recommendations": [20]},
    {"track": 36, "recommendations": [44, 49]},
    {"track": 5, "recommendations": [6, 7]},
]


def vectors(rows: dict[int, tuple[float, float]]) -> np.ndarray:
    """Two-dimensional embeddings: ``rows`` as given, every other track (0, 1)."""
    matrix = np.tile(np.array([0.0, 1.0], dtype=np.float32), (N_TRACKS, 1))
    for track, row in rows.items():
        matrix[track] = row
    return matrix


@pytest.fixture()
def make(redis_client, catalog, tmp_path, build):
    """``make(embeddings=None, **params)``: an adaptive on the planted lists (and embeddings)."""
    load_artifact(redis_client, "planted", write_jsonl(tmp_path / "planted.jsonl", LISTS))
    load_artifact(redis_client, "top_tracks",
                  write_jsonl(tmp_path / "top.jsonl", [{"track": 59, "score": 1.0}]))

    def adaptive(embeddings: np.ndarray | None = None, seed: int = 0, **params):
        spec = {"type": "adaptive", "lists": "planted", "embeddings": None, "liked": None,
                **params}
        if embeddings is not None:
            np.save(tmp_path / "vectors.npy", embeddings)
            load_artifact(redis_client, "vectors", tmp_path / "vectors.npy")
            spec["embeddings"] = "vectors"
        return build("adaptive", seed=seed, specs={**RECOMMENDERS, "adaptive": spec})

    return adaptive


def play(recommender, user: int, *listens: tuple[int, float]) -> int:
    """Play ``listens`` (track, time) in one session; the answer to the last."""
    for track, time in listens:
        answer = recommender.recommend_next(user, track, time)
    return answer


def test_the_lists_of_the_listens_vote_and_rank_decays(make):
    # 0's list votes 0.7 for 10, 0.7 / (1 + 1/20) for 20.
    assert play(make(), 1, (0, 1.0)) == 10


def test_two_listens_pointing_at_one_track_outvote_a_single_list_head(make):
    # 0 and 1 heard through: 20 gets 0.667 + 0.7, 10 only 0.7.
    assert play(make(), 1, (0, 1.0), (1, 1.0)) == 20


def test_a_skip_pushes_away_what_its_list_points_to(make):
    # 2's list is [20, 10]. 3 (whose list is [20]) heard through adds 0.7 to 20; skipped, it
    # takes 0.3 away, and 10 (0.7 / 1.05) overtakes 20 (0.7 - 0.3).
    assert play(make(), 1, (2, 1.0), (3, 1.0)) == 20
    assert play(make(), 2, (2, 1.0), (3, 0.0)) == 10


def test_the_skip_time_decides_what_votes_against(make):
    # 3 heard 0.8: for, at the default 0.3; against, at 0.9 (20: 0.1 - 0.1, 10: 0.1 / 1.05).
    assert play(make(), 1, (2, 1.0), (3, 0.8)) == 20
    assert play(make(skip_time=0.9), 2, (2, 1.0), (3, 0.8)) == 10


def test_the_artist_penalty_moves_past_an_artist_already_played(make):
    # 43 (artist 7) heard, then 36: its list [44 (artist 7), 49] votes 0.7 and 0.667; 44 pays
    # the penalty once.
    listens = [(43, 1.0), (36, 1.0)]
    assert play(make(artist_penalty=0.79), 1, *listens) == 49
    assert play(make(artist_penalty=1.0), 2, *listens) == 44


def test_the_embeddings_rerank_the_list_candidates(make):
    # 5's list is [6, 7]; the query is 5's vector, which 7's is close to and 6's orthogonal to.
    planted = vectors({5: (1.0, 0.0), 7: (1.0, 0.1)})
    assert play(make(), 1, (5, 1.0)) == 6
    assert play(make(planted, embedding_weight=2.0), 2, (5, 1.0)) == 7
    assert play(make(planted, embedding_weight=0.0), 3, (5, 1.0)) == 6


def test_without_list_candidates_the_query_is_scored_over_the_catalog(make):
    # No list for 50: the nearest track to its vector is 20, then 30; skipping 20 turns the query
    # away from 20, and 30 (still on the query's side) is answered.
    planted = vectors({50: (1.0, 0.0), 20: (1.0, 0.1), 30: (1.0, 0.3)})
    adaptive = make(planted)
    assert play(adaptive, 1, (50, 1.0)) == 20
    assert play(adaptive, 1, (20, 0.0)) == 30


def test_what_the_user_liked_before_comes_back_when_it_is_near_the_session(
    make, redis_client, tmp_path
):
    # 5's list [6, 7] votes 0.7 and 0.667, and 6 and 7 are orthogonal to the query (5's vector).
    # User 7 liked 30, close to the query, and 10, orthogonal to it; user 9 liked only 10.
    liked = [{"user": 7, "tracks": [30, 10]}, {"user": 9, "tracks": [10]}]
    load_artifact(redis_client, "liked_before", write_jsonl(tmp_path / "liked.jsonl", liked))
    planted = vectors({5: (1.0, 0.0), 30: (1.0, 0.05), 10: (0.0, 1.0)})
    adaptive = make(planted, liked="liked_before")
    assert play(adaptive, 7, (5, 1.0)) == 30
    assert play(adaptive, 7, (30, 1.0)) == 6  # never again in the session
    assert play(adaptive, 9, (5, 1.0)) == 6  # a liked track of another taste stays out
    assert play(adaptive, 8, (5, 1.0)) == 6  # no list of likes
    assert play(make(planted, liked="liked_before", liked_weight=0.0), 7, (5, 1.0)) == 6


def test_a_liked_track_of_another_taste_leaves_the_catalog_wide_query_alone(
    make, redis_client, tmp_path
):
    # No list for 50: its nearest tracks by the query are 20, then 30. User 7 liked 10, which
    # points away from the query: it is no candidate, and the query still scores the catalog.
    load_artifact(redis_client, "liked_before",
                  write_jsonl(tmp_path / "liked.jsonl", [{"user": 7, "tracks": [10]}]))
    planted = vectors({50: (1.0, 0.0), 20: (1.0, 0.1), 30: (1.0, 0.3), 10: (-1.0, 0.2)})
    assert play(make(planted, liked="liked_before"), 7, (50, 1.0)) == 20


def test_embeddings_of_fewer_tracks_than_the_query_scores(make):
    # Twenty rows only (fewer than the catalog-wide query's candidates): 10's nearest is 12.
    planted = vectors({10: (1.0, 0.0), 12: (1.0, 0.1)})[:20]
    assert play(make(planted), 1, (10, 1.0)) == 12


def test_without_any_candidate_the_fallback_answers(make):
    # No list for 59 and no embeddings: top_pop's only ranked track is 59, which is heard, so a
    # random unheard track is answered.
    adaptive = make()
    answers = {play(adaptive, user, (59, 1.0)) for user in range(1, 30)}
    assert 59 not in answers and len(answers) > 5


def test_exploration_draws_the_best_candidates_by_softmax(make, redis_client):
    # 0's list scores 10: 0.7 and 20: 0.7 / 1.05; with two candidates explored at temperature
    # 0.05, 10 is drawn with probability 1 / (1 + exp(-(0.7 - 0.7 / 1.05) / 0.05)).
    adaptive = make(temperature=0.05, explore_top=2)
    answers = []
    for _ in range(400):
        answers.append(play(adaptive, 1, (0, 1.0)))
        end_session(redis_client, 1)
    assert set(answers) == {10, 20}
    p = 1 / (1 + math.exp(-(0.7 - 0.7 / 1.05) / 0.05))
    assert stats.binomtest(answers.count(10), len(answers), p).pvalue > 1e-3


def test_exploration_is_deterministic_by_seed(make, redis_client):
    def draws(seed: int) -> list[int]:
        adaptive = make(temperature=0.5, seed=seed)
        out = []
        for _ in range(40):
            out.append(play(adaptive, 1, (0, 1.0)))
            end_session(redis_client, 1)
        return out

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
