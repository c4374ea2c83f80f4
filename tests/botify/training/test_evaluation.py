"""Offline metrics against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import RecommendationLists
from botify.training.evaluation import Queries, format_table, random_lists, score


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
