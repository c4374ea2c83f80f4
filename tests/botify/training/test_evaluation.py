"""Offline metrics against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pandas as pd
import pytest

from botify.events import TIME, TRACK, USER
from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import RecommendationLists
from botify.training.catalog import TrackCatalog
from botify.training.evaluation import (
    METRICS,
    NO_CATALOG,
    Queries,
    TrainPopularity,
    distinct_share,
    format_table,
    mean_popularity,
    novelty,
    random_lists,
    score,
    serendipity,
    to_json,
)


def test_metrics_by_hand():
    # user 1 relevant {10, 30}; user 2 relevant {50}; user 3 relevant {70} with no list
    queries = Queries(
        "user",
        keys=np.array([1, 2, 3]),
        pair_query=np.array([0, 0, 1, 2]),
        pair_track=np.array([10, 30, 50, 70]),
    )
    lists = RecommendationLists(
        PER_USER,
        np.array([1, 2]),
        [np.array([20, 10, 30, 40]), np.array([60, 61, 62, 50])],
    )
    result = score(queries, lists, k=3, catalog_size=10, model="m")
    ndcg1 = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert result.precision == pytest.approx((2 / 3 + 0 + 0) / 3)
    assert result.recall == pytest.approx((1 + 0 + 0) / 3)
    assert result.ndcg == pytest.approx(ndcg1 / 3)
    assert result.mrr == pytest.approx((1 / 2) / 3)
    # served top-3: {20, 10, 30, 60, 61, 62}
    assert result.coverage == pytest.approx(6 / 10)
    assert "precision@3" in format_table([result])


def test_random_baseline_matches_its_expectation():
    rng = np.random.default_rng(0)
    catalog = np.arange(100)
    n = 4000
    queries = Queries("next", rng.integers(0, 1000, n), np.arange(n), rng.integers(0, 100, n))
    lists = random_lists(queries.keys, catalog, 10, PER_TRACK, rng)
    result = score(queries, lists, k=10, catalog_size=100, model="random")
    # one relevant track among 100, ten drawn: hit rate 0.1, precision 0.01
    assert result.recall == pytest.approx(0.1, abs=0.015)
    assert result.precision == pytest.approx(0.01, abs=0.0015)
    assert all(len(set(items)) == 10 for items in lists.items)


# Beyond accuracy. Catalog: track -> (artist, genre); 99 is not in it.
CATALOG = {10: ("A", "rock"), 20: ("A", "pop"), 30: ("B", "rock"), 40: ("C", "rock")}
# Training listens: track 10 by all four users (user 1 twice), 20 and 40 by users 1 and 2,
# 30 by user 3; 99 never.
TRAIN = pd.DataFrame(
    {
        USER: [1, 1, 2, 3, 4, 1, 2, 3, 1, 2],
        TRACK: [10, 10, 10, 10, 10, 20, 20, 30, 40, 40],
        TIME: [1.0] * 10,
    }
)


def _beyond_case():
    # user 1 relevant {10, 30}; user 2 relevant {99}; user 3 relevant {70} with no list
    queries = Queries(
        "user",
        keys=np.array([1, 2, 3]),
        pair_query=np.array([0, 0, 1, 2]),
        pair_track=np.array([10, 30, 99, 70]),
    )
    lists = RecommendationLists(
        PER_USER, np.array([1, 2]), [np.array([10, 20, 30, 40]), np.array([30, 40, 99])]
    )
    catalog = TrackCatalog.from_records(
        [{"track": t, "artist": a, "genre": g} for t, (a, g) in CATALOG.items()]
    )
    return queries, lists, catalog


def test_train_popularity_counts_distinct_listeners():
    popularity = TrainPopularity.fit(TRAIN)
    assert popularity.users == 4
    assert popularity.of(np.array([10, 20, 30, 40, 99, -1])).tolist() == [4, 2, 1, 2, 0, 0]
    # 20 and 40 tie at two listeners: the smaller id first
    assert popularity.top(3).tolist() == [10, 20, 40]
    empty = TrainPopularity.fit(TRAIN.iloc[:0])
    assert empty.users == 0 and empty.of(np.array([10])).tolist() == [0]


def test_beyond_accuracy_by_hand():
    queries, lists, catalog = _beyond_case()
    popularity = TrainPopularity.fit(TRAIN)
    result = score(queries, lists, 3, 5, "m", popularity, catalog, serendipity_top=1)
    # top-3 lists: user 1 [10, 20, 30], user 2 [30, 40, 99], user 3 none (left out)
    # artists: user 1 {A, A, B} -> 2/3; user 2 {B, C} (99 unknown) -> 2/2
    assert result.artist_diversity == pytest.approx((2 / 3 + 1) / 2)
    # genres: user 1 {rock, pop, rock} -> 2/3; user 2 {rock, rock} -> 1/2
    assert result.genre_diversity == pytest.approx((2 / 3 + 1 / 2) / 2)
    # -log2(listeners / 4): 10 -> 0, 20 -> 1, 30 -> 2, 40 -> 1, 99 (as one listener) -> 2
    assert result.novelty == pytest.approx(((0 + 1 + 2) / 3 + (2 + 1 + 2) / 3) / 2)
    # listeners: user 1 (4 + 2 + 1) / 3, user 2 (1 + 2 + 0) / 3
    assert result.popularity == pytest.approx((7 / 3 + 1) / 2)
    # the top-1 popular track is 10: user 1 keeps 30 of its hits {10, 30}, user 2 its hit 99,
    # user 3 has no list; divided by k = 3 and averaged over the three users
    assert result.serendipity == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert result.notes == ()
    # leaving nothing out, serendipity is precision
    plain = score(queries, lists, 3, 5, "m", popularity, catalog, serendipity_top=0)
    assert plain.serendipity == pytest.approx(plain.precision) == pytest.approx((2 / 3 + 1 / 3) / 3)
    # with 10, 20, 40 left out, user 1 keeps 30 and user 2 keeps 99: as with one left out
    wide = score(queries, lists, 3, 5, "m", popularity, catalog, serendipity_top=3)
    assert wide.serendipity == pytest.approx(2 / 9)


def test_beyond_accuracy_pure_functions_by_hand():
    codes = np.array([[0, 0, 1], [-1, -1, -1], [2, -1, 3]])
    assert distinct_share(codes)[[0, 2]].tolist() == pytest.approx([2 / 3, 1.0])
    assert np.isnan(distinct_share(codes)[1])
    assert distinct_share(np.zeros((0, 3), dtype=np.int64)).shape == (0,)
    listeners = np.array([[8, 2, 0], [4, 4, 4]])
    valid = np.array([[True, True, True], [False, False, False]])
    # users 8: -log2(8/8) = 0, -log2(2/8) = 2, unseen -log2(1/8) = 3
    info = novelty(listeners, valid, 8)
    assert info[0] == pytest.approx(5 / 3) and np.isnan(info[1])
    assert np.isnan(novelty(listeners, valid, 0)).all()
    pop = mean_popularity(listeners, valid)
    assert pop[0] == pytest.approx(10 / 3) and np.isnan(pop[1])
    top = np.array([[1, 2, -1], [3, 4, 5]])
    relevant = np.array([[True, True, False], [False, True, True]])
    assert serendipity(top, relevant, np.array([2, 5]), 3).tolist() == pytest.approx([1 / 3, 1 / 3])


def test_beyond_accuracy_without_catalog_lists_or_queries():
    queries, lists, _ = _beyond_case()
    popularity = TrainPopularity.fit(TRAIN)
    # no catalog: the diversities are NaN, with the reason in the notes, the table and the JSON
    result = score(queries, lists, 3, 5, "m", popularity)
    assert math.isnan(result.artist_diversity) and math.isnan(result.genre_diversity)
    assert result.notes == (NO_CATALOG,)
    assert not math.isnan(result.novelty)
    table = format_table([result, result])
    assert "n/a" in table and table.count(NO_CATALOG) == 1
    row = to_json([result])[0]
    assert row["artist_diversity"] is None and row["notes"] == [NO_CATALOG]
    assert orjson.loads(orjson.dumps(row)) == row
    # no lists at all: nothing to describe (NaN), nothing serendipitous (0), like precision 0
    _, _, catalog = _beyond_case()
    empty = RecommendationLists(PER_USER, np.array([], dtype=np.int64), [])
    result = score(queries, empty, 3, 5, "m", popularity, catalog)
    assert result.precision == 0.0 and result.serendipity == 0.0
    assert all(
        math.isnan(getattr(result, m))
        for m in ("artist_diversity", "genre_diversity", "novelty", "popularity")
    )
    # lists that are empty, or hold only tracks outside the catalog
    hollow = RecommendationLists(
        PER_USER, np.array([1, 2]), [np.array([], dtype=np.int64), np.array([99])]
    )
    result = score(queries, hollow, 3, 5, "m", popularity, catalog)
    assert math.isnan(result.artist_diversity)
    assert result.novelty == pytest.approx(2.0) and result.popularity == 0.0
    assert result.serendipity == pytest.approx((0 + 1 / 3 + 0) / 3)
    # no queries: every metric NaN
    none = Queries("user", np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([]))
    result = score(none, lists, 3, 5, "m", popularity, catalog)
    assert result.queries == 0
    assert all(math.isnan(getattr(result, m)) for m in METRICS)
    # without the training popularity, the three popularity metrics are NaN too
    result = score(queries, lists, 3, 5, "m", catalog=catalog)
    assert math.isnan(result.novelty) and math.isnan(result.serendipity)
    assert result.artist_diversity == pytest.approx(5 / 6)
