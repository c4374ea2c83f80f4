"""Runs a recommender in-process against the world (no HTTP).

Anything with ``recommend_next(user, prev_track, prev_time) -> int`` works (the :class:`Recommender`
protocol, which botify's recommenders satisfy without importing it); it sees ids, as behind the
service. The session end (the service's ``/last``) goes to ``on_last``, e.g. to clear session state
in Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from sim.agents.base import AgentBase
from sim.envs.session import Session
from sim.errors import SimError
from sim.world.model import World


@runtime_checkable
class Recommender(Protocol):
    """What an in-process agent asks for the next track (structural: no base class needed)."""

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """The next track for ``user``, who listened to ``prev_track`` for ``prev_time`` (0..1)."""
        ...


class RecommenderAgent(AgentBase):
    """Adapts a recommender (e.g. one of botify's) to the simulator.

    Args:
        world: the world (the recommender's catalog must hold its tracks).
        recommender: the recommender.
        on_last: called as ``on_last(user_id, last_track_id, last_time)`` when a session ends.
    """

    def __init__(
        self,
        world: World,
        recommender: Recommender,
        on_last: Callable[[int, int, float], object] | None = None,
    ) -> None:
        self.world = world
        self.recommender = recommender
        self.on_last = on_last

    def recommend(self, session: Session) -> int:
        """The recommender's answer for the track just played."""
        track = self.recommender.recommend_next(
            session.user_id, int(self.world.track_ids[session.last_track]), session.last_time
        )
        try:
            return self.world.track_index(int(track))
        except (SimError, TypeError, ValueError):
            raise SimError(
                f"{type(self.recommender).__name__} recommended {track!r}, "
                "which is not a track of the world"
            ) from None

    def finish(self, session: Session) -> None:
        """Tell ``on_last`` that the session ended."""
        if self.on_last is not None:
            self.on_last(
                session.user_id, int(self.world.track_ids[session.last_track]), session.last_time
            )
