"""The console agent: a person picks every next track.

Before each step it shows the previous track (artist and title) and how much of it was listened
to, then reads a track id from the input; an empty line picks a random track.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

import numpy as np

from sim.agents.base import AgentBase
from sim.envs.session import Session
from sim.errors import SimError
from sim.world.model import World


class ConsoleAgent(AgentBase):
    """Reads the next track id from ``read_line`` (default: stdin).

    Args:
        world: the world.
        read_line: returns the next input line ("" at end of input).
        out: where prompts go.
        rng: picks the track when the line is empty.
    """

    def __init__(
        self,
        world: World,
        read_line: Callable[[], str] | None = None,
        out: TextIO | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.world = world
        self.read_line = read_line or sys.stdin.readline
        self.out = out or sys.stdout
        self.rng = np.random.default_rng(rng)

    def _describe(self, track: int) -> str:
        record = self.world.track_record(track)
        return f"{record['artist']} - {record['title']} (track {record['track']})"

    def start(self, session: Session) -> None:
        """Announce the user and the first track."""
        print(
            f"\nuser {session.user_id} starts with {self._describe(session.last_track)}",
            file=self.out,
        )

    def recommend(self, session: Session) -> int:
        """Ask for the next track id."""
        if session.steps:
            print(
                f"  listened {session.last_time:.0%} of {self._describe(session.last_track)}; "
                f"session time {session.reward:.2f}",
                file=self.out,
            )
        while True:
            print("  next track id (Enter: random): ", end="", file=self.out, flush=True)
            line = self.read_line()
            if not line:
                raise SimError("the console agent's input ended")
            text = line.strip()
            if not text:
                return int(self.rng.integers(0, self.world.n_tracks))
            try:
                return self.world.track_index(int(text))
            except (ValueError, SimError):
                print(f"  {text!r} is not a track id of this world", file=self.out)

    def finish(self, session: Session) -> None:
        """Show how the session ended."""
        print(
            f"  listened {session.last_time:.0%} of {self._describe(session.last_track)}; "
            f"the user left after {session.steps} tracks, session time {session.reward:.2f}",
            file=self.out,
        )
