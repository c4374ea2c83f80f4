"""Indexed: a precomputed, relevance-ordered list of tracks per user (e.g. from MultiDAE)."""

from __future__ import annotations

from dataclasses import dataclass

from botify.params import param
from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import SessionRecommender, first_new, last_resort, random_new
from botify.store.artifacts import PER_USER, RANKING
from botify.store.batch import Batch

RANDOM = "random"
ORDERED = "ordered"


class Indexed(SessionRecommender):
    """Recommends from the user's list of a per-user artifact.

    - ``"random"`` (the course's): a uniformly random track of the user's list; the fallback when
      the user has no list. Keeps no state.
    - ``"ordered"``: the user's list in relevance order, skipping what was already
      recommended (or played) in this session; when the list is exhausted or missing, a random
      track of the ``top`` most popular not played in the session; then the fallback. Never repeats
      a track of the session while the catalog has others.
    """

    type_name = "indexed"

    @dataclass(frozen=True)
    class Params:
        mode: str = param(ORDERED, "ordered: the list in order, never repeating; random: the "
                          "course's random pick", choices=(ORDERED, RANDOM))
        recs: str = param("multidae", "per-user lists", artifact=PER_USER)
        ranking: str = param("top_tracks", "popular tracks for users without a list (ordered)",
                             artifact=RANKING)
        top: int = param(100, "how many popular tracks are drawn from", low=1)
        fallback: str | None = param(None, "answers when nothing else does (none: a random "
                                     "track)", recommender=True)

    def __init__(self, context: RecommenderContext, params: Params) -> None:
        super().__init__(context, params)
        self.mode = params.mode
        self.recs = params.recs
        self.ranking = params.ranking
        self.top = params.top

    @property
    def no_repeats(self) -> bool:
        """Whether it promises never to recommend a track of the session: in ordered mode."""
        return self.mode == ORDERED

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """The next track for ``user`` (see the class docstring for the two modes)."""
        if self.mode == RANDOM:
            (entry,) = self.reader.entries(self.recs, [user])
            track = random_new(entry.tracks, (), self.catalog, self.rng) if entry else None
            if track is None:
                track = self.fallback.recommend_next(user, prev_track, prev_time)
            return track

        batch = Batch(self.redis)
        session = self.sessions.queue_observe(batch, user, prev_track, prev_time, recommended=True)
        entries = self.reader.queue_entries(batch, self.recs, [user])
        ranking = self.reader.queue_ranking(batch, self.ranking)
        batch.execute()
        state = session()
        (entry,) = entries()
        seen = state.heard | state.recommended
        track = first_new(entry.tracks, seen, self.catalog) if entry else None
        if track is None:
            popular = ranking()
            if popular is not None:
                track = random_new(popular.top(self.top).tolist(), seen, self.catalog, self.rng)
        if track is None:
            track = last_resort(self.fallback, self.random, user, prev_track, prev_time, seen)
        self.sessions.update(self.redis, user, recommended=track)
        return track
