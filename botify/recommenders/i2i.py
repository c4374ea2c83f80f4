"""I2I: item-to-item lists anchored on a recent listen, weighted by how much of it was heard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from botify.params import param
from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import SessionRecommender, first_new, last_resort
from botify.store.artifacts import PER_TRACK
from botify.store.batch import Batch


class I2I(SessionRecommender):
    """Recommends from the list of an anchor drawn among the user's recent listens.

    The anchor is drawn among the session's last ``recent`` listens with probability proportional
    to the listened time (a track heard twice counts twice); the answer is the first track of the
    anchor's list the user has not heard in this session. When that list has nothing new, another
    anchor is drawn among the rest; when no anchor is left (no listen with time > 0, no lists),
    the fallback answers, avoiding the session's tracks. Two round trips per request.
    """

    type_name = "i2i"
    no_repeats: ClassVar[bool] = True  # never recommends a track of the session

    @dataclass(frozen=True)
    class Params:
        recs: str = param("i2i_cooc", "per-track lists the answer is taken from",
                          artifact=PER_TRACK)
        recent: int = param(10, "the session's last listens an anchor is drawn among", low=1)
        fallback: str | None = param("top_pop", "answers when no anchor has a new track "
                                     "(none: a random track)", recommender=True)

    def __init__(self, context: RecommenderContext, params: Params) -> None:
        super().__init__(context, params)
        self.recs = params.recs
        self.recent = params.recent

    def anchor_weights(self, recent: list[tuple[int, float]]) -> dict[int, float]:
        """Each recent track's weight: its summed listened time over the last ``recent`` listens."""
        weights: dict[int, float] = {}
        for track, time in recent[: self.recent]:
            if time > 0:
                weights[track] = weights.get(track, 0.0) + time
        return weights

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """The next track for ``user`` (see the class docstring)."""
        batch = Batch(self.redis)
        session = self.sessions.queue_observe(batch, user, prev_track, prev_time, recent=True)
        # The anchors are known only after this round trip; all their lists come in a second one.
        batch.execute()
        state = session()
        weights = self.anchor_weights(state.recent)
        candidates = list(weights)
        entries = dict(zip(candidates, self.reader.entries(self.recs, candidates), strict=True))
        while candidates:
            p = np.array([weights[t] for t in candidates])
            anchor = candidates[int(self.rng.choice(len(candidates), p=p / p.sum()))]
            entry = entries.get(anchor)
            track = first_new(entry.tracks, state.heard, self.catalog) if entry else None
            if track is not None:
                return track
            candidates.remove(anchor)
        return last_resort(self.fallback, self.random, user, prev_track, prev_time, state.heard)
