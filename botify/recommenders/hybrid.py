"""Hybrid: a post-processed contextual ranker that hands over to a per-user model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from botify.params import param
from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import SessionRecommender, first_new, last_resort, random_new
from botify.store.artifacts import PER_TRACK, PER_USER, RANKING, Entry, Ranking
from botify.store.batch import Batch

# Which part answered last, kept in the session state field STATE_FIELD.
CONTEXTUAL = "contextual"
PERSONAL = "user"
STATE_FIELD = "hybrid_last"


class Hybrid(SessionRecommender):
    """A contextual ranker's lists, post-processed, handing over to a per-user model.

    - The contextual part takes the previous track's list in ``per_track`` with its weights (the
      predicted listened time), drops the candidates predicted below ``drop_below`` and the tracks
      heard in this session, backfills up to ``backfill_to`` candidates with the most popular tracks
      of the previous track's artist, then the globally most popular ones (weighted a third of the
      lowest kept weight), and samples one by softmax of weight / ``temperature``.
      A list without weights keeps all its candidates, equally weighted.
    - The per-user part answers the first track of the user's ``per_user`` list not heard.
    - Switching: the per-user part serves when the previous answer came from the contextual part
      and was listened to less than ``switch_below``, and keeps serving while its answers are
      listened to at least that much; otherwise the contextual part serves. When the part chosen
      has nothing, the other one answers, then a random popular track, then the fallback.
    - What the user heard in this session is never recommended again (while the catalog has others).
    """

    type_name = "hybrid"
    no_repeats: ClassVar[bool] = True  # never recommends a track of the session

    @dataclass(frozen=True)
    class Params:
        per_track: str = param("ranker", "per-track lists weighted by predicted time (the "
                               "contextual part)", artifact=PER_TRACK)
        per_user: str = param("multidae", "per-user lists (the per-user part)", artifact=PER_USER)
        ranking: str = param("top_tracks", "popular tracks to backfill with", artifact=RANKING)
        drop_below: float = param(0.1, "candidates predicted to be heard less are dropped")
        backfill_to: int = param(30, "candidates the contextual part backfills up to", low=0)
        temperature: float = param(1.0, "softmax temperature over the candidates' weights",
                                   low=1e-6)
        switch_below: float = param(0.7, "a contextual answer heard less hands over to the "
                                    "per-user part", low=0.0, high=1.0)
        fallback: str | None = param(None, "answers when both parts have nothing (none: a "
                                     "random track)", recommender=True)

    def __init__(self, context: RecommenderContext, params: Params) -> None:
        super().__init__(context, params)
        self.per_track = params.per_track
        self.per_user = params.per_user
        self.ranking = params.ranking
        self.drop_below = params.drop_below
        self.backfill_to = params.backfill_to
        self.temperature = params.temperature
        self.switch_below = params.switch_below

    def use_per_user(self, last: str | None, prev_time: float) -> bool:
        """Whether the per-user part serves, given which part answered last and how it went."""
        if last == CONTEXTUAL:
            return prev_time < self.switch_below
        if last == PERSONAL:
            return prev_time >= self.switch_below
        return False

    def candidates(
        self, prev_track: int, entry: Entry | None, ranking: Ranking | None, heard: set[int]
    ) -> tuple[list[int], list[float]]:
        """The contextual part's candidates and weights after dropping and backfilling."""
        tracks: list[int] = []
        weights: list[float] = []
        if entry is not None:
            given = entry.weights if entry.weights is not None else (1.0,) * len(entry.tracks)
            for track, weight in zip(entry.tracks, given, strict=True):
                if entry.weights is not None and weight < self.drop_below:
                    continue
                if track in heard or track in tracks or not self.catalog.contains(track):
                    continue
                tracks.append(track)
                weights.append(weight)
        if len(tracks) >= self.backfill_to or ranking is None:
            return tracks, weights
        backfill_weight = min(weights) / 3 if weights else 0.0
        chosen = set(tracks)
        wanted = self.backfill_to - len(tracks)
        artist = ranking.by_score(self.catalog.artist_tracks(prev_track))
        # Enough of the global head to fill up even when much of it was heard or chosen.
        head = ranking.top(wanted + len(heard) + len(chosen)).tolist()
        for track in [*artist, *head]:
            if wanted == 0:
                break
            if track in heard or track in chosen or not self.catalog.contains(track):
                continue
            chosen.add(track)
            tracks.append(track)
            weights.append(backfill_weight)
            wanted -= 1
        return tracks, weights

    def sample(self, tracks: list[int], weights: list[float]) -> int | None:
        """One of ``tracks`` drawn by softmax of ``weights`` / temperature (None when empty)."""
        if not tracks:
            return None
        logits = np.asarray(weights, dtype=float) / self.temperature
        p = np.exp(logits - logits.max())
        return tracks[int(self.rng.choice(len(tracks), p=p / p.sum()))]

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """The next track for ``user`` (see the class docstring); two round trips."""
        batch = Batch(self.redis)
        session = self.sessions.queue_observe(batch, user, prev_track, prev_time, state=True)
        contextual = self.reader.queue_entries(batch, self.per_track, [prev_track])
        personal = self.reader.queue_entries(batch, self.per_user, [user])
        popular = self.reader.queue_ranking(batch, self.ranking)
        batch.execute()
        state = session()
        heard = state.heard
        ranking = popular()

        def from_context() -> int | None:
            (entry,) = contextual()
            return self.sample(*self.candidates(prev_track, entry, ranking, heard))

        def from_user() -> int | None:
            (entry,) = personal()
            return first_new(entry.tracks, heard, self.catalog) if entry else None

        parts = [(CONTEXTUAL, from_context), (PERSONAL, from_user)]
        if self.use_per_user(state.state.get(STATE_FIELD), prev_time):
            parts.reverse()
        track, part = None, parts[0][0]
        for name, answer in parts:
            track = answer()
            if track is not None:
                part = name
                break
        if track is None and ranking is not None:
            track = random_new(ranking.top(100).tolist(), heard, self.catalog, self.rng)
        if track is None:
            track = last_resort(self.fallback, self.random, user, prev_track, prev_time, heard)
        self.sessions.update(self.redis, user, state={STATE_FIELD: part})
        return track
