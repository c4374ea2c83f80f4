"""Contextual: a precomputed list of next tracks per track (item-to-item)."""

from __future__ import annotations

from dataclasses import dataclass

from botify.params import param
from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import artifact_reader, fallback, random_new
from botify.store.artifacts import PER_TRACK


class Contextual:
    """A uniformly random track of the previous track's list in a per-track artifact (the course's).

    When the previous track has no list (or none of it is in the catalog), the fallback answers.
    Keeps no state, so it does not promise to avoid the session's tracks (``i2i`` and ``hybrid``
    do).
    """

    type_name = "contextual"

    @dataclass(frozen=True)
    class Params:
        recs: str = param("ranker", "per-track lists of next tracks", artifact=PER_TRACK)
        fallback: str | None = param("sticky_artist", "answers when the previous track has no "
                                     "list (none: a random track)", recommender=True)

    def __init__(self, context: RecommenderContext, params: Params) -> None:
        self.recs = params.recs
        self.catalog = context.catalog
        self.rng = context.rng
        self.reader = artifact_reader(context)
        self.fallback = fallback(context, params.fallback)

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """A random track of ``prev_track``'s list (one round trip), else the fallback's answer."""
        (entry,) = self.reader.entries(self.recs, [prev_track])
        track = random_new(entry.tracks, (), self.catalog, self.rng) if entry else None
        if track is None:
            track = self.fallback.recommend_next(user, prev_track, prev_time)
        return track
