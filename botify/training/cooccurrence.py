"""Item-to-item lists from co-occurrence: which next tracks were listened to after a track.

From the consecutive pairs ``(prev, next, time)`` within sessions, a candidate ``next`` of ``prev``
scores the total time listened to it right after ``prev``: it counts how often the transition was
served and how well it was received. A skipped transition adds nearly nothing.

With the catalog (:meth:`Cooccurrence.with_catalog`), every catalog track gets a list: the observed
next tracks first, then tracks of the same genre by other artists, one per artist in a random order.
A cold-start day observes only a few next tracks per track, and the genre is what the listeners'
tastes follow; one track per artist, because a listener tires of an artist (SPEC section 6).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify.events import TIME
from botify.training.artifacts import PER_TRACK, RecommendationLists
from botify.training.catalog import TrackCatalog
from botify.training.dataset import NEXT, PREV


class Cooccurrence:
    """Per-track lists of the next tracks with the most listened time after it.

    Args:
        k: the longest list kept per track.
        min_time: a candidate must have gathered more than this total time to be listed, so
            transitions that were always skipped are not recommended.
    """

    def __init__(self, k: int = 100, min_time: float = 0.0) -> None:
        self.k = k
        self.min_time = min_time
        self.lists: RecommendationLists | None = None

    def fit(self, pairs: pd.DataFrame) -> Cooccurrence:
        """Learn from transitions (the output of ``dataset.transitions``)."""
        pairs = pairs[pairs[PREV] != pairs[NEXT]]
        scores = pairs.groupby([PREV, NEXT], sort=False)[TIME].agg(["sum", "size"]).reset_index()
        scores = scores[scores["sum"] > self.min_time]
        # Best first: total time, then how often served, then ascending id for determinism.
        scores = scores.sort_values(
            [PREV, "sum", "size", NEXT], ascending=[True, False, False, True], kind="stable"
        )
        scores = scores[scores.groupby(PREV, sort=False).cumcount() < self.k]
        prev = scores[PREV].to_numpy(dtype=np.int64)
        nxt = scores[NEXT].to_numpy(dtype=np.int64)
        keys, starts = np.unique(prev, return_index=True)
        items = np.split(nxt, starts[1:]) if len(keys) else []
        total = scores["sum"].to_numpy(dtype=np.float64)
        self.lists = RecommendationLists(
            kind=PER_TRACK,
            keys=keys,
            items=items,
            weights=np.split(total, starts[1:]) if len(keys) else [],
        )
        return self

    def recommendations(self) -> RecommendationLists:
        """The per-track lists (the ``i2i_cooc`` artifact), without weights."""
        if self.lists is None:
            raise RuntimeError("call fit() first")
        return RecommendationLists(kind=PER_TRACK, keys=self.lists.keys, items=self.lists.items)

    def with_catalog(
        self,
        catalog: TrackCatalog,
        k: int | None = None,
        per_artist: int = 2,
        min_observed: float = 0.5,
        seed: int = 0,
    ) -> RecommendationLists:
        """Lists for every catalog track: the observed ones, filled up from the track's genre.

        Args:
            catalog: the tracks with their artists and genres.
            k: the length of every list (default: the model's ``k``).
            per_artist: the most tracks of one artist in a list, the key track's artist counting
                the key itself (so ``2`` allows one more of its artist).
            min_observed: an observed next track is listed only when the total time listened to it
                after the key reaches this (a transition served once and skipped is no evidence,
                and listing it ahead of the genre would be worse than the genre).
            seed: seeds the order of the genre's tracks (a different order for every key).

        Returns:
            Per-track lists keyed by every catalog track, observed next tracks (in the catalog)
            first, in their order, then other artists' tracks of the key's genre.
        """
        k = self.k if k is None else k
        if self.lists is None or self.lists.weights is None:
            raise RuntimeError("call fit() first")
        known = {
            key: items[weights >= min_observed]
            for key, items, weights in zip(
                self.lists.keys.tolist(), self.lists.items, self.lists.weights, strict=True
            )
        }
        rng = np.random.default_rng(seed)
        ids = catalog.tracks.ids
        keys: list[int] = []
        items: list[np.ndarray] = []
        for genre in range(catalog.n_genres):
            pool = np.flatnonzero(catalog.genre == genre)
            # The genre's tracks grouped by artist: a random track of each artist in turn.
            pool = pool[np.argsort(catalog.artist[pool], kind="stable")]
            artists, starts, counts = np.unique(
                catalog.artist[pool], return_index=True, return_counts=True
            )
            for position in np.sort(pool).tolist():
                key = int(ids[position])
                artist = int(catalog.artist[position])
                counts_of = {artist: 1}
                chosen: list[int] = []
                listed = known.get(key)
                if listed is not None and len(listed):
                    pos, listed_artist, _ = catalog.codes(listed)
                    for track, p, a in zip(
                        listed.tolist(), pos.tolist(), listed_artist.tolist(), strict=True
                    ):
                        if len(chosen) >= k:
                            break
                        if p < 0 or track == key or counts_of.get(a, 0) >= per_artist:
                            continue
                        counts_of[a] = counts_of.get(a, 0) + 1
                        chosen.append(track)
                if len(chosen) < k:
                    order = rng.permutation(len(artists))
                    within = (rng.random(len(order)) * counts[order]).astype(np.int64)
                    picks = pool[starts[order] + within]
                    full = {a for a, c in counts_of.items() if c >= per_artist} | {artist}
                    taken = set(chosen)
                    for a, p in zip(artists[order].tolist(), picks.tolist(), strict=True):
                        if len(chosen) >= k:
                            break
                        track = int(ids[p])
                        if a in full or track in taken:
                            continue
                        chosen.append(track)
                keys.append(key)
                items.append(np.array(chosen, dtype=np.int64))
        order = np.argsort(np.array(keys, dtype=np.int64), kind="stable")
        return RecommendationLists(
            kind=PER_TRACK,
            keys=np.array(keys, dtype=np.int64)[order],
            items=[items[i] for i in order.tolist()],
        )
