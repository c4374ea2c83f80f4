"""The oracle: the in-process ceiling, which knows the session's hidden taste.

At every step it plays the unplayed track with the highest listening time the user would give it
now, artist fatigue included (a greedy ceiling: it is exact about the next step, not a planner).
Per session it scores every track against the taste once, keeps the best ``candidates`` of
them, and re-ranks only those at each step; when fatigue has pushed all of them below what an
outside track could reach, it falls back to ranking the whole catalog, so the choice is always the
true best.
"""

from __future__ import annotations

import numpy as np

from sim.agents.base import AgentBase
from sim.envs.session import Session
from sim.world.model import World


def _listening(scores: np.ndarray, bias: float, sharpness: float) -> np.ndarray:
    """Listening time before fatigue and rounding: sigmoid((score - bias) * sharpness)."""
    x = (scores.astype(np.float64) - bias) * sharpness
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = expit(x), without overflow warnings


class OracleAgent(AgentBase):
    """Greedy ceiling: the unplayed track with the highest time for this user right now.

    Args:
        world: the world.
        candidates: how many best-scoring tracks to re-rank at each step.
    """

    def __init__(self, world: World, candidates: int = 256) -> None:
        self.world = world
        self.k = min(candidates, world.n_tracks)

    def start(self, session: Session) -> None:
        """Score the catalog against the session's taste; keep the best candidates."""
        scores = self.world.embeddings @ session.taste
        n = len(scores)
        cand = np.argpartition(scores, n - self.k)[n - self.k :] if self.k < n else np.arange(n)
        cand = cand[np.argsort(-scores[cand], kind="stable")]
        self._scores = scores
        self._cand = cand
        self._artists = self.world.artist_of[cand]
        self._base = _listening(scores[cand], session.bias, session.sharpness)
        self._floor = np.rint(self._base[-1] * 100.0) / 100.0 if self.k < n else -1.0
        self._factor = np.ones(len(cand))
        self._played = np.zeros(len(cand), dtype=bool)
        self._gamma = session.gamma
        self._seen = -1
        self._note(session)

    def _note(self, session: Session) -> None:
        """Note the last track into account (its artist's fatigue, and that it is played)."""
        if session.steps == self._seen:
            return
        self._seen = session.steps
        track = session.last_track
        self._factor[self._artists == self.world.artist_of[track]] *= self._gamma
        self._played[self._cand == track] = True

    def recommend(self, session: Session) -> int:
        """The best unplayed track for the session right now."""
        self._note(session)
        values = np.rint(self._base * self._factor * 100.0) / 100.0
        values[self._played] = -1.0
        best = int(np.argmax(values))
        if values[best] >= self._floor:
            return int(self._cand[best])
        return self._best_overall(session)

    def _best_overall(self, session: Session) -> int:
        """The exact best over the whole catalog (rarely needed)."""
        counts = np.zeros(self.world.n_artists)
        for artist, plays in session.artist_plays.items():
            counts[artist] = plays
        base = _listening(self._scores, session.bias, session.sharpness)
        values = np.rint(base * self._gamma ** counts[self.world.artist_of] * 100.0) / 100.0
        values[list(session.played)] = -1.0
        order = np.lexsort((-self._scores, -values))
        return int(order[0])
