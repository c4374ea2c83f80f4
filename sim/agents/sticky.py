"""StickyArtist in-process: a random track by the artist of the previous track (no Redis)."""

from __future__ import annotations

import numpy as np

from sim.agents.base import AgentBase
from sim.envs.session import Session
from sim.world.model import World

_BLOCK = 256


class StickyArtistAgent(AgentBase):
    """Recommends a random track of the previous track's artist.

    As the service's StickyArtist does, the previous track itself is left out when its artist has
    other tracks, so the two give the same sessions in distribution.

    Args:
        world: the world.
        rng: random generator or seed.
    """

    def __init__(self, world: World, rng: np.random.Generator | int | None = None) -> None:
        self.world = world
        self.rng = np.random.default_rng(rng)
        self._draws: list[float] = []

    def recommend(self, session: Session) -> int:
        """A random track by the artist of ``session.last_track``, other than that track."""
        previous = session.last_track
        tracks = self.world.artist_tracks(int(self.world.artist_of[previous]))
        if len(tracks) == 1:
            return int(tracks[0])
        if not self._draws:
            self._draws = self.rng.random(_BLOCK).tolist()
        pick = int(tracks[int(self._draws.pop() * (len(tracks) - 1))])
        # drawn among the others: the previous track's slot stands for the last track
        return int(tracks[-1]) if pick == previous else pick
