"""Item-to-item lists from co-occurrence: which next tracks were listened to after a track.

From the consecutive pairs ``(prev, next, time)`` within sessions, a candidate ``next`` of ``prev``
scores the total time listened to it right after ``prev``: it counts how often the transition was
served and how well it was received. A skipped transition adds nearly nothing.

A cold-start day observes only a few next tracks per track; with the catalog, the pipeline lists
every track instead (``appeal.appeal_lists``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify.events import TIME
from botify.store.artifacts import PER_TRACK
from botify.training.artifacts import RecommendationLists
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
