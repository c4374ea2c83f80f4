"""Adaptive: scores candidates against what the session has shown so far, request by request.

Each listen of the session is evidence about its taste: a track heard through says "more like
this", a skipped one "less like this". The recommender turns the session's recent listens into
scores for candidate tracks and answers the best one it has not played:

- **Support from lists.** Each recent listen ``(j, y)`` votes for the tracks of ``j``'s per-track
  list (``lists``, e.g. ``i2i_cooc``) with weight ``y - skip_time`` (negative for a skip, so
  what skipped tracks point to is pushed away), decayed with the rank ``r`` in the list as
  ``1 / (1 + r / decay)``. The first ``depth`` tracks of each list vote.
- **Session query over embeddings.** The same weights sum the listened tracks' unit embeddings
  (``embeddings``, learned from the logs) into a query; each candidate adds ``embedding_weight``
  times the cosine of its embedding with the query. When no list has a candidate, the query is
  scored against the whole catalog (one float32 matrix product).
- **What the user liked before.** Each track of the user's ``liked`` list (tracks they heard
  through in earlier sessions) whose cosine with the query is positive is a candidate too, adding
  ``liked_weight`` times the square of that cosine: a returning listener's session of a taste
  they had before brings back the tracks they enjoyed then, and those of their other tastes stay
  out. It needs the embeddings (without them the liked lists are not read).
- **Artist fatigue.** A positive score is multiplied by ``artist_penalty ** k``, ``k`` the number
  of tracks by the candidate's artist already played in the session: listen time falls by about
  that factor with each further track of one artist (``botify tune artist-penalty`` estimates it
  from the logs).
- **Exploration.** With ``temperature`` 0 the best candidate is answered; above 0 one of the
  ``explore_top`` best is drawn by softmax of score / temperature (the process's seeded
  generator).

Nothing played in the session is answered again; with no candidate at all, the fallback answers.
Two round trips per request: the session with the embeddings' version and the user's liked
tracks, then the lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from botify.params import param
from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import SessionRecommender, last_resort
from botify.store.artifacts import PER_TRACK, PER_USER, Entry
from botify.store.batch import Batch
from botify.store.embeddings import EMBEDDINGS, Embeddings, EmbeddingsReader

# Catalog-wide candidates scored by the query alone when the lists give none.
QUERY_CANDIDATES = 50


def list_support(
    recent: list[tuple[int, float]],
    entries: list[Entry | None],
    skip_time: float,
    decay: float,
    depth: int,
) -> dict[int, float]:
    """Each candidate's summed votes from the lists of the recent listens (see the module)."""
    scores: dict[int, float] = {}
    for (_, time), entry in zip(recent, entries, strict=True):
        if entry is None:
            continue
        weight = time - skip_time
        for rank, track in enumerate(entry.tracks[:depth]):
            scores[track] = scores.get(track, 0.0) + weight / (1.0 + rank / decay)
    return scores


def session_query(
    recent: list[tuple[int, float]], units: np.ndarray, skip_time: float
) -> np.ndarray | None:
    """The unit sum of the listened tracks' unit vectors (rows of ``units``, zero for a track
    without a vector) weighted by ``time - skip_time``, or None when it is zero."""
    rows = [(track, time - skip_time) for track, time in recent if 0 <= track < len(units)]
    if not rows:
        return None
    tracks, weights = zip(*rows, strict=True)
    query = np.asarray(weights, dtype=np.float32) @ units[list(tracks)]
    norm = float(np.linalg.norm(query))
    return query / norm if norm > 0 else None


def artist_counts(heard: set[int], catalog) -> dict[int, int]:
    """Track -> how many tracks of its artist were played in the session (tracks of those
    artists only)."""
    counts: dict[int, int] = {}
    for track in heard:
        for other in catalog.artist_tracks(track):
            counts[other] = counts.get(other, 0) + 1
    return counts


class Adaptive(SessionRecommender):
    """Session-adaptive scoring of list neighbours and embeddings (see the module docstring)."""

    type_name = "adaptive"
    no_repeats: ClassVar[bool] = True  # never recommends a track of the session

    @dataclass(frozen=True)
    class Params:
        lists: str = param("i2i_cooc", "per-track lists whose tracks the listens vote for",
                           artifact=PER_TRACK)
        embeddings: str | None = param("hybrid_mf_embeddings", "item embeddings the session "
                                       "query is built over (none: lists only)",
                                       artifact=EMBEDDINGS)
        liked: str | None = param("liked", "per-user lists of the tracks each user heard "
                                  "through before (none, or no embeddings: not used)",
                                  artifact=PER_USER)
        liked_weight: float = param(2.0, "weight of a liked track's squared cosine with the "
                                    "session query", low=0.0)
        recent: int = param(10, "the session's last listens that vote", low=1)
        depth: int = param(25, "tracks of each list that are voted for", low=1)
        decay: float = param(20.0, "rank at which a list's vote is halved", low=1e-6)
        skip_time: float = param(0.3, "listen time below which a listen votes against",
                                 low=0.0, high=1.0)
        embedding_weight: float = param(0.5, "weight of the cosine with the session query",
                                        low=0.0)
        artist_penalty: float = param(0.79, "score factor per track of the candidate's artist "
                                      "already played (fitted by botify tune artist-penalty)",
                                      low=0.0, high=1.0)
        temperature: float = param(0.0, "softmax temperature over the best candidates (0: "
                                   "always the best)", low=0.0)
        explore_top: int = param(10, "candidates the softmax draws among", low=1)
        fallback: str | None = param("top_pop", "answers when there is no candidate (none: a "
                                     "random track)", recommender=True)

    def __init__(self, context: RecommenderContext, params: Params) -> None:
        super().__init__(context, params)
        self.embeddings_reader = EmbeddingsReader(context.redis)
        # Unit rows of the embeddings being served, by version (computed once per version).
        self._units: tuple[int, np.ndarray] | None = None

    def units(self, embeddings: Embeddings) -> np.ndarray:
        """The embeddings' rows scaled to unit length (zero rows stay zero)."""
        if self._units is None or self._units[0] != embeddings.version:
            norms = np.where(embeddings.norms > 0, embeddings.norms, 1.0).astype(np.float32)
            self._units = (embeddings.version, embeddings.vectors / norms[:, None])
        return self._units[1]

    def scores(
        self,
        recent: list[tuple[int, float]],
        entries: list[Entry | None],
        embeddings: Embeddings | None,
        heard: set[int],
        liked: Entry | None = None,
    ) -> dict[int, float]:
        """Every candidate's score, the session's tracks left out (see the module docstring)."""
        p = self.params
        scores = list_support(recent, entries, p.skip_time, p.decay, p.depth)
        units = self.units(embeddings) if embeddings else None
        query = session_query(recent, units, p.skip_time) if units is not None else None
        if query is not None:
            if not scores:
                size = min(QUERY_CANDIDATES + len(heard), len(units))
                top = np.argpartition(-(units @ query), size - 1)[:size]
                scores = dict.fromkeys(top.tolist(), 0.0)
            if liked is not None and p.liked_weight > 0:
                rows = [t for t in liked.tracks if 0 <= t < len(units) and t not in heard]
                cosines = (units[rows] @ query).tolist() if rows else []
                for track, cosine in zip(rows, cosines, strict=True):
                    if cosine > 0:  # a track of another taste stays out
                        scores[track] = scores.get(track, 0.0) + p.liked_weight * cosine**2
            if p.embedding_weight > 0:
                rows = [t for t in scores if 0 <= t < len(units)]
                cosines = units[rows] @ query
                for track, cosine in zip(rows, cosines.tolist(), strict=True):
                    scores[track] += p.embedding_weight * cosine
        for track in heard:
            scores.pop(track, None)
        counts = artist_counts(heard, self.catalog)
        for track, score in scores.items():
            k = counts.get(track, 0)
            if k and score > 0:
                scores[track] = score * p.artist_penalty**k
        return scores

    def choose(self, scores: dict[int, float]) -> int | None:
        """The best catalog track of ``scores``, or a softmax draw among the best few."""
        wanted = 1 if self.params.temperature == 0 else self.params.explore_top
        top: list[tuple[int, float]] = []
        for track, score in sorted(scores.items(), key=lambda item: (-item[1], item[0])):
            if self.catalog.contains(track):
                top.append((track, score))
                if len(top) == wanted:
                    break
        if not top:
            return None
        if self.params.temperature == 0:
            return top[0][0]
        logits = np.array([s for _, s in top]) / self.params.temperature
        p = np.exp(logits - logits.max())
        return top[int(self.rng.choice(len(top), p=p / p.sum()))][0]

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """The next track for ``user`` (see the module docstring)."""
        batch = Batch(self.redis)
        session = self.sessions.queue_observe(batch, user, prev_track, prev_time, recent=True)
        vectors = (self.embeddings_reader.queue(batch, self.params.embeddings)
                   if self.params.embeddings else lambda: None)
        liked = (self.reader.queue_entries(batch, self.params.liked, [user])
                 if self.params.liked and self.params.embeddings else lambda: [None])
        batch.execute()
        state = session()
        recent = state.recent[: self.params.recent]
        entries = self.reader.entries(self.params.lists, [t for t, _ in recent])
        track = self.choose(self.scores(recent, entries, vectors(), state.heard, liked()[0]))
        if track is None:
            track = last_resort(self.fallback, self.random, user, prev_track, prev_time,
                                state.heard)
        return track
