"""The dummy agent: a uniformly random track of the world (the course's Random recommender)."""

from __future__ import annotations

import numpy as np

from sim.agents.base import AgentBase
from sim.envs.session import Session

_BLOCK = 256


class RandomAgent(AgentBase):
    """Recommends a uniformly random track.

    Args:
        n_tracks: number of tracks in the world.
        rng: random generator or seed.
    """

    def __init__(self, n_tracks: int, rng: np.random.Generator | int | None = None) -> None:
        self.n_tracks = n_tracks
        self.rng = np.random.default_rng(rng)
        self._picks: list[int] = []

    def recommend(self, session: Session) -> int:
        """A uniformly random track position."""
        if not self._picks:
            self._picks = self.rng.integers(0, self.n_tracks, size=_BLOCK).tolist()
        return self._picks.pop()
