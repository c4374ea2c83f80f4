"""Popularity: total listened time per track (the ``top_tracks`` ranking behind TopPop)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify.events import TIME, TRACK
from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import RankedTracks, RecommendationLists


class TopTracks:
    """Tracks ranked by the total time listened to them, ties broken by ascending id."""

    def __init__(self) -> None:
        self.ranking: RankedTracks | None = None

    def fit(self, events: pd.DataFrame) -> TopTracks:
        """Sum ``time`` per track over the events (any frame with ``track, time``)."""
        totals = events.groupby(TRACK)[TIME].sum()
        self.ranking = self.from_totals(totals.index.to_numpy(dtype=np.int64),
                                        totals.to_numpy(dtype=np.float64)).ranking
        return self

    @classmethod
    def from_totals(cls, tracks: np.ndarray, scores: np.ndarray) -> TopTracks:
        """The ranking of tracks by their total time (computed elsewhere, e.g. by Spark)."""
        order = np.lexsort((tracks, -scores))
        ranked = cls()
        ranked.ranking = RankedTracks(tracks=tracks[order], scores=scores[order])
        return ranked

    def _fitted(self) -> RankedTracks:
        if self.ranking is None:
            raise RuntimeError("call fit() first")
        return self.ranking

    def top(self, k: int) -> np.ndarray:
        """The ``k`` most popular track ids, most popular first."""
        return self._fitted().tracks[:k]

    def as_lists(self, keys: np.ndarray, k: int, kind: str = PER_USER) -> RecommendationLists:
        """The same top-``k`` list for every key: the ``top_pop`` baseline of the evaluation."""
        if kind not in (PER_TRACK, PER_USER):
            raise ValueError(f"unknown kind {kind!r}")
        top = self.top(k)
        return RecommendationLists(kind=kind, keys=np.asarray(keys), items=[top] * len(keys))
