"""TopPop: a random track among the k most popular."""

from __future__ import annotations

from dataclasses import dataclass

from botify.params import param
from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import artifact_reader, fallback
from botify.store.artifacts import RANKING


class TopPop:
    """A uniformly random track of the ``k`` most popular of a ranking artifact.

    Without the ranking (not loaded yet), the fallback answers (a random track by default).
    """

    type_name = "top_pop"

    @dataclass(frozen=True)
    class Params:
        k: int = param(100, "how many of the most popular tracks are drawn from", low=1)
        ranking: str = param("top_tracks", "the ranking of tracks by popularity", artifact=RANKING)
        fallback: str | None = param(None, "answers without the ranking (none: a random track)",
                                     recommender=True)

    def __init__(self, context: RecommenderContext, params: Params) -> None:
        self.k = params.k
        self.ranking = params.ranking
        self.catalog = context.catalog
        self.rng = context.rng
        self.reader = artifact_reader(context)
        self.fallback = fallback(context, params.fallback)

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
