"""StickyArtist in-process: a random track by the artist of the previous track (no Redis)."""

from __future__ import annotations

import numpy as np

from sim.agents.base import AgentBase
from sim.envs.session import Session
from sim.world.model import World


class StickyArtistAgent(AgentBase):
    """Recommends a uniformly random track of the previous track's artist (SPEC 5, StickyArtist).

    Args:
        world: the world.
        rng: random generator or seed.
    """

    def __init__(self, world: World, rng: np.random.Generator | int | None = None) -> None:
        self.world = world
        self.rng = np.random.default_rng(rng)
        self._draws: list[float] = []

    def recommend(self, session: Session) -> int:
        """A random track by the artist of ``session.last_track``."""
        tracks = self.world.artist_tracks(int(self.world.artist_of[session.last_track]))
        if not self._draws:
            self._draws = self.rng.random(256).tolist()
        return int(tracks[int(self._draws.pop() * len(tracks))])
