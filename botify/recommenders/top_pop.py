"""TopPop: a random track among the k most popular."""

from __future__ import annotations

from typing import Any

from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import Params, artifact_reader, fallback


class TopPop:
    """A uniformly random track of the ``k`` most popular of a ranking artifact.

    Config: ``{"type": "top_pop", "k": 100, "ranking": "top_tracks", "fallback": NAME}``.
    Without the ranking (not loaded yet), the fallback answers (a random track by default).
    """

    def __init__(self, context: RecommenderContext, **params: Any) -> None:
        p = Params("top_pop", params)
        self.k = p.integer("k", 100)
        self.ranking = p.text("ranking", "top_tracks")
        self.catalog = context.catalog
        self.rng = context.rng
        self.reader = artifact_reader(context)
        self.fallback = fallback(context, p)
        p.check_unknown()

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """A random track of the top ``k`` (one round trip: the ranking's version)."""
        ranking = self.reader.ranking(self.ranking)
        if ranking is not None:
            top = ranking.top(self.k)
            # A handful of draws: a stale ranking may name tracks no longer in the catalog.
            for _ in range(8 if len(top) else 0):
                track = int(top[self.rng.integers(len(top))])
                if self.catalog.contains(track):
                    return track
        return self.fallback.recommend_next(user, prev_track, prev_time)
