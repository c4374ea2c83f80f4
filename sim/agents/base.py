"""What an agent is: it recommends the next track of a session, one step at a time.

The runner calls ``start(session)`` once, then ``recommend(session)`` until the session is over
(``session.last_track`` and ``session.last_time`` are the previous track and how much of it was
listened: the environment's last observation and reward), then ``finish(session)`` once, the moment
the course's runner tells the agent ``done=True`` (the remote agent calls ``/last`` then). Agents
work with track and user *positions* in the world; ids are ``world.track_ids[...]``.
"""

from __future__ import annotations

from typing import Protocol

from sim.envs.session import Session


class Agent(Protocol):
    """Recommends tracks to simulated sessions."""

    def start(self, session: Session) -> None:
        """A session begins (its first track is ``session.last_track``)."""
        ...

    def recommend(self, session: Session) -> int:
        """The position of the track to play next."""
        ...

    def finish(self, session: Session) -> None:
        """The session is over."""
        ...


class AgentBase:
    """Convenience base: ``start`` and ``finish`` do nothing."""

    def start(self, session: Session) -> None:
        """A session begins."""

    def recommend(self, session: Session) -> int:  # pragma: no cover - abstract
        """The position of the track to play next."""
        raise NotImplementedError

    def finish(self, session: Session) -> None:
        """The session is over."""
