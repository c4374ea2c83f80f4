"""Offline evaluation on a holdout by time: precision@k, recall@k, NDCG@k, MRR@k, coverage.

Two tasks, each scored on the test part of the logs (sessions that start after the cutoff, see
``dataset.split_by_time``):

- ``user``: per-user lists. A query is a test user who also appears in the training part and has a
  positive (``time > 0.8``) in the test part; the relevant tracks are the user's distinct positives
  in the test part.
- ``next``: per-track lists. A query is a test transition ``prev -> next`` listened past the
  threshold whose ``prev`` appears in the training part; the one relevant track is ``next``.

A key without a list (a user or track the model has nothing for) scores 0 on every metric. MRR is
cut at ``k`` (a relevant track below rank ``k`` scores 0). Coverage is the share of the training
catalog that appears in the top-``k`` lists served to the queries. The baselines ``top_pop`` (the
same most-listened tracks for everyone) and ``random`` (``k`` distinct random tracks per key) are
scored the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from botify.events import TIME, TRACK, USER
from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import RecommendationLists
from botify.training.dataset import NEXT, POSITIVE_THRESHOLD, PREV, transitions
from botify.training.popularity import TopTracks

USER_TASK = "user"
NEXT_TASK = "next"
METRICS = ("precision", "recall", "ndcg", "mrr", "coverage")


@dataclass(frozen=True)
class Queries:
    """Queries of one task with their relevant tracks.

    Attributes:
        task: ``"user"`` or ``"next"``.
        keys: the key (user or previous track id) of each query.
        pair_query: for each relevant (query, track) pair, the query's index.
        pair_track: for each relevant pair, the track id.
    """

    task: str
    keys: np.ndarray
    pair_query: np.ndarray
    pair_track: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def kind(self) -> str:
        """The kind of lists that answer these queries."""
        return PER_USER if self.task == USER_TASK else PER_TRACK


@dataclass(frozen=True)
class Scores:
    """Mean metrics of one model on one task."""

    task: str
    model: str
    k: int
    queries: int
    precision: float
    recall: float
    ndcg: float
    mrr: float
    coverage: float


def user_queries(
    train: pd.DataFrame, test: pd.DataFrame, threshold: float = POSITIVE_THRESHOLD
) -> Queries:
    """The ``user`` task: warm test users and their distinct positive tracks in the test part."""
    known = np.unique(train[USER].to_numpy())
    positive = test[(test[TIME] > threshold) & test[USER].isin(known)]
    pairs = positive[[USER, TRACK]].drop_duplicates().sort_values([USER, TRACK])
    keys, pair_query = np.unique(pairs[USER].to_numpy(), return_inverse=True)
    return Queries(USER_TASK, keys, pair_query, pairs[TRACK].to_numpy(dtype=np.int64))


def next_queries(
    train: pd.DataFrame, test: pd.DataFrame, threshold: float = POSITIVE_THRESHOLD
) -> Queries:
    """The ``next`` task: positive test transitions whose previous track is known from training."""
    known = np.unique(train[TRACK].to_numpy())
    pairs = transitions(test)
    pairs = pairs[(pairs[TIME] > threshold) & pairs[PREV].isin(known)]
    n = len(pairs)
    return Queries(
        NEXT_TASK,
        pairs[PREV].to_numpy(dtype=np.int64),
        np.arange(n),
        pairs[NEXT].to_numpy(dtype=np.int64),
    )


def score(
    queries: Queries, lists: RecommendationLists, k: int, catalog_size: int, model: str
) -> Scores:
    """Mean precision@k, recall@k, NDCG@k, MRR@k over the queries, and catalog coverage.

    Args:
        queries: the task's queries.
        lists: the model's lists; keys without a list score 0.
        k: the cutoff.
        catalog_size: the number of tracks coverage is relative to.
        model: the name shown in the results.
    """
    n = len(queries)
    if n == 0:
        nan = float("nan")
        return Scores(queries.task, model, k, 0, nan, nan, nan, nan, nan)
    top = _top_matrix(queries.keys, lists, k)
    # rank of each relevant pair in its query's list (k when absent)
    matches = top[queries.pair_query] == queries.pair_track[:, None]
    found = matches.any(axis=1)
    rank = np.where(found, matches.argmax(axis=1), k)
    hits = np.bincount(queries.pair_query[found], minlength=n)
    relevant = np.bincount(queries.pair_query, minlength=n)
    gains = np.where(found, 1.0 / np.log2(rank + 2.0), 0.0)
    dcg = np.bincount(queries.pair_query, weights=gains, minlength=n)
    discounts = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))])
    idcg = discounts[np.minimum(relevant, k)]
    best = np.full(n, k)
    np.minimum.at(best, queries.pair_query, rank)
    rr = np.where(best < k, 1.0 / (best + 1.0), 0.0)
    served = np.unique(top[top >= 0])
    return Scores(
        task=queries.task,
        model=model,
        k=k,
        queries=n,
        precision=float(np.mean(hits / k)),
        recall=float(np.mean(hits / relevant)),
        ndcg=float(np.mean(dcg / idcg)),
        mrr=float(np.mean(rr)),
        coverage=float(len(served) / catalog_size) if catalog_size else 0.0,
    )


def _top_matrix(keys: np.ndarray, lists: RecommendationLists, k: int) -> np.ndarray:
    """The first ``k`` recommendations of each query's key, padded with -1."""
    unique, inverse = np.unique(keys, return_inverse=True)
    by_key = lists.as_dict()
    table = np.full((len(unique), k), -1, dtype=np.int64)
    for row, key in enumerate(unique.tolist()):
        items = by_key.get(key)
        if items is not None:
            items = np.asarray(items[:k], dtype=np.int64)
            table[row, : len(items)] = items
    return table[inverse]


def random_lists(
    keys: np.ndarray, catalog: np.ndarray, k: int, kind: str, rng: np.random.Generator
) -> RecommendationLists:
    """The ``random`` baseline: ``k`` distinct uniformly random catalog tracks per distinct key."""
    unique = np.unique(keys)
    k = min(k, len(catalog))
    items = [catalog[rng.choice(len(catalog), size=k, replace=False)] for _ in range(len(unique))]
    return RecommendationLists(kind=kind, keys=unique, items=items)


def evaluate(
    train: pd.DataFrame,
    test: pd.DataFrame,
    models: Mapping[str, RecommendationLists],
    k: int = 10,
    rng: np.random.Generator | int | None = None,
    threshold: float = POSITIVE_THRESHOLD,
) -> list[Scores]:
    """Score models (trained on ``train``) and the two baselines on the test part.

    Args:
        train: the training events (``dataset.session_events`` layout).
        test: the held-out events (same layout).
        models: model name to its lists; each is scored on the task of its kind.
        k: the cutoff.
        rng: seeds the random baseline.
        threshold: a test listen is relevant when ``time > threshold``.

    Returns:
        One :class:`Scores` per (task, model), baselines first within each task.
    """
    rng = np.random.default_rng(rng)
    catalog = np.unique(train[TRACK].to_numpy())
    popularity = TopTracks().fit(train)
    results: list[Scores] = []
    for queries in (user_queries(train, test, threshold), next_queries(train, test, threshold)):
        entries: list[tuple[str, RecommendationLists]] = [
            ("top_pop", popularity.as_lists(np.unique(queries.keys), k, queries.kind)),
            ("random", random_lists(queries.keys, catalog, k, queries.kind, rng)),
        ]
        entries += [(name, lists) for name, lists in models.items() if lists.kind == queries.kind]
        for name, lists in entries:
            results.append(score(queries, lists, k, len(catalog), name))
    return results


def format_table(results: Sequence[Scores]) -> str:
    """A plain-text table of the scores, one row per (task, model)."""
    header = [
        "task",
        "model",
        "queries",
        *(f"{m}@{results[0].k}" if results else m for m in METRICS),
    ]
    rows = [
        [r.task, r.model, str(r.queries), *(f"{getattr(r, m):.4f}" for m in METRICS)]
        for r in results
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_json(results: Sequence[Scores]) -> list[dict]:
    """The scores as JSON-ready dicts."""
    return [asdict(r) for r in results]
