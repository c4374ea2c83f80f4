"""Each recommender's own logic on the small world of conftest.py, against known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from botify.recommenders.hybrid import CONTEXTUAL, PERSONAL, STATE_FIELD
from botify.store.sessions import end_session, session_key
from tests.botify.recommenders.conftest import artist_of


def chain(recommender, user, first, times):
    """Answers of a session started on ``first`` where answer i is heard for ``times[i]``."""
    answers, prev, time = [], first, 1.0
    for next_time in times:
        prev = recommender.recommend_next(user, prev, time)
        answers.append(prev)
        time = next_time
    return answers


# top_pop ------------------------------------------------------------------------------------------


def test_top_pop_is_uniform_over_the_top_k(build, artifacts):
    top_pop = build("top_pop", k=3)
    answers = [top_pop.recommend_next(1, 50, 1.0) for _ in range(600)]
    counts = [answers.count(t) for t in (0, 1, 2)]
    assert sum(counts) == 600
    assert stats.chisquare(counts).pvalue > 1e-3


def test_top_pop_follows_a_reloaded_ranking(build, artifacts, redis_client, tmp_path):
    from botify.store.artifacts import load_artifact
    from tests.botify.recommenders.conftest import write_jsonl

    top_pop = build("top_pop", k=1)
    assert top_pop.recommend_next(1, 50, 1.0) == 0
    load_artifact(redis_client, "top_tracks", write_jsonl(tmp_path / "r.jsonl", [
        {"track": 9, "score": 5.0}, {"track": 0, "score": 1.0}]))
    assert top_pop.recommend_next(1, 50, 1.0) == 9


# indexed ------------------------------------------------------------------------------------------


def test_indexed_ordered_walks_the_list_then_the_popular_head(build, artifacts):
    indexed = build("indexed", top=3)
    answers = chain(indexed, 1, 50, [0.5] * 7)
    assert answers[:3] == [10, 11, 12]
    assert set(answers[3:6]) == {0, 1, 2}
    assert answers[6] not in {50, 10, 11, 12, 0, 1, 2}


def test_indexed_ordered_skips_what_was_recommended_even_if_not_played(build, artifacts):
    indexed = build("indexed")
    # The player reports 50 each time (say, a client that ignores the answers).
    assert [indexed.recommend_next(1, 50, 1.0) for _ in range(3)] == [10, 11, 12]


def test_indexed_ordered_skips_the_track_played(build, artifacts):
    assert chain(build("indexed"), 1, 11, [1.0, 1.0]) == [10, 12]


def test_indexed_random_picks_from_the_list(build, artifacts):
    indexed = build("indexed_random")
    answers = [indexed.recommend_next(1, 50, 1.0) for _ in range(90)]
    assert set(answers) == {10, 11, 12}
    assert stats.chisquare([answers.count(t) for t in (10, 11, 12)]).pvalue > 1e-3


# contextual ---------------------------------------------------------------------------------------


def test_contextual_picks_from_the_previous_track_s_list(build, artifacts):
    contextual = build("contextual")
    assert {contextual.recommend_next(1, 0, 1.0) for _ in range(60)} == {1, 2, 3}


def test_contextual_falls_back_for_a_track_without_list(build, artifacts):
    contextual = build("contextual", fallback="sticky_artist")
    assert artist_of(contextual.recommend_next(1, 50, 1.0)) == artist_of(50)


# i2i ----------------------------------------------------------------------------------------------


def test_i2i_takes_the_first_unheard_of_the_anchor_s_list(build, artifacts):
    i2i = build("i2i", fallback="sticky_artist")
    # 5 -> [6, 7]. After 6 is skipped (time 0), 5 is the only anchor with weight: 7.
    # After 7 is skipped too, 5's list is exhausted: the fallback, another track of artist 0.
    answers = chain(i2i, 1, 5, [0.0, 0.0, 0.0])
    assert answers[:2] == [6, 7]
    assert artist_of(answers[2]) == 0 and answers[2] not in {5, 6, 7}


def test_i2i_draws_the_anchor_weighted_by_listened_time(build, artifacts, redis_client):
    i2i = build("i2i")
    hits = 0
    n = 400
    for _ in range(n):
        end_session(redis_client, 1)
        assert i2i.recommend_next(1, 40, 0.75) == 41  # 40 -> [41, 42]
        # Recent: 41 (0.25), 40 (0.75). Anchor 40 gives 42; anchor 41 (-> [43]) gives 43.
        answer = i2i.recommend_next(1, 41, 0.25)
        assert answer in {42, 43}
        hits += answer == 42
    assert stats.binomtest(hits, n, 0.75).pvalue > 1e-3


# hybrid -------------------------------------------------------------------------------------------


def test_hybrid_drops_low_predictions_and_backfills_artist_then_global(build, artifacts):
    from botify.store.artifacts import ArtifactReader

    hybrid = build("hybrid", backfill_to=5, drop_below=0.5)
    reader = ArtifactReader(hybrid.redis)
    (entry,) = reader.entries("ranker", [0])
    ranking = reader.ranking("top_tracks")
    # ranker 0 -> 1 (0.9), 2 (0.6), 3 (0.2 < 0.5, dropped); backfill: artist 0's popular tracks
    # (0 is heard) at a third of the lowest kept weight.
    tracks, weights = hybrid.candidates(0, entry, ranking, {0})
    assert tracks == [1, 2, 3, 4, 5]
    assert weights == pytest.approx([0.9, 0.6, 0.2, 0.2, 0.2])
    # With 3 and 4 heard, the artist runs out and the global head fills in (6 is the first new).
    tracks, _ = hybrid.candidates(0, entry, ranking, {0, 3, 4})
    assert tracks == [1, 2, 5, 6, 7]


def test_hybrid_samples_by_softmax_of_the_weights(build, artifacts):
    hybrid = build("hybrid", temperature=0.5)
    tracks, weights = [1, 2, 3], [0.9, 0.6, 0.2]
    draws = [hybrid.sample(tracks, weights) for _ in range(3000)]
    expected = special.softmax(np.array(weights) / 0.5) * len(draws)
    observed = [draws.count(t) for t in tracks]
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_hybrid_switches_to_the_user_list_and_back(build, artifacts, redis_client):
    hybrid = build("hybrid")

    def part():
        return redis_client.hget(session_key(1, "state"), STATE_FIELD).decode()

    first = hybrid.recommend_next(1, 0, 1.0)
    assert first in {1, 2, 3, 4, 5} and part() == CONTEXTUAL
    # The contextual answer was skipped (0.3 < 0.7): the per-user list, in order.
    assert hybrid.recommend_next(1, first, 0.3) == 10
    assert part() == PERSONAL
    # Listened (0.9): stay with it.
    assert hybrid.recommend_next(1, 10, 0.9) == 11
    assert part() == PERSONAL
    # Skipped (0.2): back to the contextual part (11 has no ranker list: its artist's tracks).
    answer = hybrid.recommend_next(1, 11, 0.2)
    assert part() == CONTEXTUAL
    assert answer not in {0, first, 10, 11}
    # A contextual answer listened to (0.9) keeps the contextual part.
    hybrid.recommend_next(1, answer, 0.9)
    assert part() == CONTEXTUAL


def test_hybrid_use_per_user_rule():
    from botify.recommenders.hybrid import Hybrid

    rule = Hybrid.use_per_user
    stub = type("S", (), {"switch_below": 0.7})()
    assert rule(stub, None, 0.0) is False
    assert rule(stub, CONTEXTUAL, 0.69) is True
    assert rule(stub, CONTEXTUAL, 0.7) is False
    assert rule(stub, PERSONAL, 0.7) is True
    assert rule(stub, PERSONAL, 0.69) is False
