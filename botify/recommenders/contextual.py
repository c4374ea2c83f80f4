"""Contextual: a precomputed list of next tracks per track (item-to-item)."""

from __future__ import annotations

from typing import Any

from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import Params, artifact_reader, fallback, random_new


class Contextual:
    """A uniformly random track of the previous track's list in a per-track artifact (the course's).

    Config: ``{"type": "contextual", "recs": "ranker", "fallback": NAME}``. When the previous track
    has no list (or none of it is in the catalog), the fallback answers. Keeps no state, so it does
    not promise to avoid the session's tracks (``i2i`` and ``hybrid`` do).
    """

    def __init__(self, context: RecommenderContext, **params: Any) -> None:
        p = Params("contextual", params)
        self.recs = p.text("recs", "ranker")
        self.catalog = context.catalog
        self.rng = context.rng
        self.reader = artifact_reader(context)
        self.fallback = fallback(context, p)
        p.check_unknown()

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """A random track of ``prev_track``'s list (one round trip), else the fallback's answer."""
        (entry,) = self.reader.entries(self.recs, [prev_track])
        track = random_new(entry.tracks, (), self.catalog, self.rng) if entry else None
        if track is None:
            track = self.fallback.recommend_next(user, prev_track, prev_time)
        return track
