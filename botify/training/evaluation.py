"""Offline evaluation on a holdout by time: accuracy, coverage and beyond-accuracy metrics.

Accuracy: precision@k, recall@k, NDCG@k, MRR@k; coverage; and, beyond accuracy, the intra-list
diversity of artists and of genres, novelty, average recommended popularity and serendipity.

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

Beyond accuracy, from the training part (see :class:`TrainPopularity`): a track's *popularity* is
its number of training listeners (distinct training users with any event of it). Per query, over
the top-``k`` list (``n`` its tracks):

- ``artist_diversity`` / ``genre_diversity``: distinct artists (genres) / tracks of the list, over
  the list's tracks found in the catalog; NaN for every query without a catalog (see ``notes``).
- ``novelty``: the mean of ``-log2(p(t))``, ``p(t) = listeners(t) / training users``; a track with
  no training listener counts as one listener.
- ``popularity``: the mean ``listeners(t)`` (0 for a track with none).
- ``serendipity``: (relevant tracks of the list not among the ``serendipity_top`` most popular
  training tracks, default :data:`SERENDIPITY_TOP`) / ``k``; a key without a list scores 0, as in
  precision.

The first four describe the lists served: each is averaged over the queries whose list holds at
least one track (found in the catalog, for diversity), and is NaN when there is none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from botify.events import TIME, TRACK, USER
from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import RecommendationLists
from botify.training.catalog import TrackCatalog
from botify.training.dataset import NEXT, POSITIVE_THRESHOLD, PREV, transitions
from botify.training.popularity import TopTracks

USER_TASK = "user"
NEXT_TASK = "next"
METRICS = (
    "precision",
    "recall",
    "ndcg",
    "mrr",
    "coverage",
    "artist_diversity",
    "genre_diversity",
    "novelty",
    "popularity",
    "serendipity",
)
# serendipity leaves out the relevant tracks among this many most popular training tracks
SERENDIPITY_TOP = 100
NO_CATALOG = "artist_diversity, genre_diversity: n/a without a catalog (--catalog FILE)"


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
    artist_diversity: float = float("nan")
    genre_diversity: float = float("nan")
    novelty: float = float("nan")
    popularity: float = float("nan")
    serendipity: float = float("nan")
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainPopularity:
    """Training listeners per track, what novelty, popularity and serendipity are relative to.

    Attributes:
        tracks: the training track ids, ascending.
        listeners: per track, its distinct training users (with any event of it).
        users: the number of distinct training users.
    """

    tracks: np.ndarray
    listeners: np.ndarray
    users: int

    @classmethod
    def fit(cls, train: pd.DataFrame) -> TrainPopularity:
        """Count the distinct users of each track in ``train`` (any frame with ``user, track``)."""
        pairs = train[[USER, TRACK]].drop_duplicates()
        tracks, listeners = np.unique(pairs[TRACK].to_numpy(dtype=np.int64), return_counts=True)
        return cls(tracks, listeners.astype(np.int64), int(pairs[USER].nunique()))

    def of(self, track_ids: np.ndarray) -> np.ndarray:
        """The listeners of each id (0 for ids unseen in training, and for the -1 padding)."""
        track_ids = np.asarray(track_ids, dtype=np.int64)
        pos = np.searchsorted(self.tracks, track_ids)
        pos = np.minimum(pos, max(len(self.tracks) - 1, 0))
        if len(self.tracks) == 0:
            return np.zeros(track_ids.shape, dtype=np.int64)
        return np.where(self.tracks[pos] == track_ids, self.listeners[pos], 0)

    def top(self, n: int) -> np.ndarray:
        """The ``n`` tracks with the most listeners, ties broken by ascending id."""
        order = np.lexsort((self.tracks, -self.listeners))
        return self.tracks[order[:n]]


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
    train: pd.DataFrame,
    test: pd.DataFrame,
    threshold: float = POSITIVE_THRESHOLD,
    by_user: bool = False,
) -> Queries:
    """The ``next`` task: positive test transitions whose previous track is known from training.

    With ``by_user``, the same queries are keyed by the listener instead of the previous track, so
    that per-user lists are scored on them too (what the user's list says they play next).
    """
    known = np.unique(train[TRACK].to_numpy())
    pairs = transitions(test)
    pairs = pairs[(pairs[TIME] > threshold) & pairs[PREV].isin(known)]
    n = len(pairs)
    return Queries(
        NEXT_TASK,
        pairs[USER if by_user else PREV].to_numpy(dtype=np.int64),
        np.arange(n),
        pairs[NEXT].to_numpy(dtype=np.int64),
    )


def score(
    queries: Queries,
    lists: RecommendationLists,
    k: int,
    catalog_size: int,
    model: str,
    popularity: TrainPopularity | None = None,
    catalog: TrackCatalog | None = None,
    serendipity_top: int = SERENDIPITY_TOP,
) -> Scores:
    """Mean precision@k, recall@k, NDCG@k, MRR@k over the queries, coverage, beyond accuracy.

    Args:
        queries: the task's queries.
        lists: the model's lists; keys without a list score 0.
        k: the cutoff.
        catalog_size: the number of tracks coverage is relative to.
        model: the name shown in the results.
        popularity: the training listeners; without it novelty, popularity and serendipity are
            NaN.
        catalog: artists and genres; without it the two diversities are NaN (and noted).
        serendipity_top: how many of the most popular training tracks serendipity leaves out.
    """
    n = len(queries)
    notes = () if catalog is not None else (NO_CATALOG,)
    nan = float("nan")
    if n == 0:
        return Scores(queries.task, model, k, 0, nan, nan, nan, nan, nan, notes=notes)
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
    artist_div = genre_div = novel = pop = serendip = nan
    if catalog is not None:
        _, artists, genres = catalog.codes(top.ravel())
        artist_div = _mean(distinct_share(np.where(top >= 0, artists.reshape(top.shape), -1)))
        genre_div = _mean(distinct_share(np.where(top >= 0, genres.reshape(top.shape), -1)))
    if popularity is not None:
        listeners = popularity.of(top)
        novel = _mean(novelty(listeners, top >= 0, popularity.users))
        pop = _mean(mean_popularity(listeners, top >= 0))
        relevant_at = np.zeros(top.shape, dtype=bool)
        relevant_at[queries.pair_query[found], rank[found]] = True
        serendip = float(np.mean(serendipity(top, relevant_at, popularity.top(serendipity_top), k)))
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
        artist_diversity=artist_div,
        genre_diversity=genre_div,
        novelty=novel,
        popularity=pop,
        serendipity=serendip,
        notes=notes,
    )


def distinct_share(codes: np.ndarray) -> np.ndarray:
    """Per row, distinct codes / codes, over the codes ``>= 0`` (-1: unknown); NaN for none."""
    codes = np.asarray(codes, dtype=np.int64)
    ordered = np.sort(codes, axis=1)
    valid = ordered >= 0
    changes = np.ones(ordered.shape, dtype=bool)
    changes[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    count = valid.sum(axis=1)
    distinct = (valid & changes).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, distinct / count, np.nan)


def novelty(listeners: np.ndarray, valid: np.ndarray, users: int) -> np.ndarray:
    """Per row, the mean self-information ``-log2(max(listeners, 1) / users)`` of the valid cells.

    NaN for a row without a valid cell (or when there are no training users).
    """
    valid = np.asarray(valid, dtype=bool)
    if users <= 0:
        return np.full(len(valid), np.nan)
    info = -np.log2(np.maximum(np.asarray(listeners, dtype=np.float64), 1.0) / users)
    return _row_mean(info, valid)


def mean_popularity(listeners: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per row, the mean training listeners of the valid cells; NaN for a row without one."""
    return _row_mean(np.asarray(listeners, dtype=np.float64), np.asarray(valid, dtype=bool))


def serendipity(
    top: np.ndarray, relevant_at: np.ndarray, popular: np.ndarray, k: int
) -> np.ndarray:
    """Per row, the relevant cells whose track is not in ``popular``, divided by ``k``."""
    unexpected = (top >= 0) & ~np.isin(top, popular)
    return (np.asarray(relevant_at, dtype=bool) & unexpected).sum(axis=1) / k


def _row_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    count = valid.sum(axis=1)
    total = np.where(valid, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _mean(values: np.ndarray) -> float:
    """The mean of the non-NaN values; NaN when there are none."""
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


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
    catalog: TrackCatalog | None = None,
    serendipity_top: int = SERENDIPITY_TOP,
) -> list[Scores]:
    """Score models (trained on ``train``) and the two baselines on the test part.

    Args:
        train: the training events (``dataset.session_events`` layout).
        test: the held-out events (same layout).
        models: model name to its lists; each is scored on the task of its kind.
        k: the cutoff.
        rng: seeds the random baseline.
        threshold: a test listen is relevant when ``time > threshold``.
        catalog: the tracks' artists and genres, for the diversities (NaN without it).
        serendipity_top: how many of the most popular training tracks serendipity leaves out.

    Returns:
        One :class:`Scores` per (task, model), baselines first within each task.
    """
    rng = np.random.default_rng(rng)
    train_tracks = np.unique(train[TRACK].to_numpy())
    popularity = TopTracks().fit(train)
    listeners = TrainPopularity.fit(train)
    results: list[Scores] = []
    for queries in (user_queries(train, test, threshold), next_queries(train, test, threshold)):
        entries: list[tuple[str, RecommendationLists]] = [
            ("top_pop", popularity.as_lists(np.unique(queries.keys), k, queries.kind)),
            ("random", random_lists(queries.keys, train_tracks, k, queries.kind, rng)),
        ]
        entries += [(name, lists) for name, lists in models.items() if lists.kind == queries.kind]
        for name, lists in entries:
            results.append(
                score(
                    queries,
                    lists,
                    k,
                    len(train_tracks),
                    name,
                    popularity=listeners,
                    catalog=catalog,
                    serendipity_top=serendipity_top,
                )
            )
    return results


def format_table(results: Sequence[Scores]) -> str:
    """A plain-text table of the scores, one row per (task, model); NaN shows as ``n/a``.

    The notes of the rows (why a metric is missing) follow the table, each once.
    """
    header = [
        "task",
        "model",
        "queries",
        *(f"{m}@{results[0].k}" if results else m for m in METRICS),
    ]
    rows = [
        [r.task, r.model, str(r.queries), *(_cell(getattr(r, m)) for m in METRICS)] for r in results
    ]
    lines = text_table(header, rows, left={0, 1})
    notes = dict.fromkeys(note for r in results for note in r.notes)
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: set[int]) -> list[str]:
    """Lines of a plain-text table: the header, a rule, the rows; columns in ``left`` flush left,
    the others flush right, two spaces apart."""
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()
        for cells in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def _cell(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.4f}"


def to_json(results: Sequence[Scores]) -> list[dict]:
    """The scores as JSON-ready dicts (NaN becomes null; ``notes`` a list)."""
    return [
        {
            key: None
            if isinstance(value, float) and np.isnan(value)
            else list(value)
            if isinstance(value, tuple)
            else value
            for key, value in asdict(r).items()
        }
        for r in results
    ]
