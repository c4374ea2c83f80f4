"""Per-user session state in Redis: what was heard and recommended, recent listens, small flags.

A session is what a user plays between their first track and ``/last``. Its state lives in Redis
(never in a worker's memory), so any number of workers and instances serve one user consistently:

    botify:session:{USER}:heard   set of tracks played in this session (requests' ``prev_track``)
    botify:session:{USER}:recs    set of tracks recommended in this session
    botify:session:{USER}:recent  list of the latest listens, newest first, JSON [track, time]
    botify:session:{USER}:state   hash of small values (e.g. which sub-recommender served last)

Every write refreshes the expiry (``SESSION_TTL``). The session boundary: the course's protocol
reports the last track of a session to ``/last``, whose handler calls :func:`end_session`; a client
that never calls ``/last`` has its session forgotten ``SESSION_TTL`` seconds after its last request.
(The first request of a session cannot be told apart from a fully listened track, both carry
``time`` 1.0, so it is not used as a boundary.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import orjson
import redis

from botify.store.batch import Batch

PREFIX = "botify:session"
PARTS = ("heard", "recs", "recent", "state")
# How many recent listens are kept per session.
RECENT_SIZE = 20


def user_tag(user: int) -> str:
    """The hash tag of ``user``'s keys: every key with it is in the user's Redis Cluster slot."""
    return f"{{{user}}}"


def session_key(user: int, part: str) -> str:
    """The key of one part of ``user``'s session (all of them in the user's cluster slot)."""
    return f"{PREFIX}:{user_tag(user)}:{part}"


def end_session(client: redis.Redis, user: int) -> None:
    """Forget ``user``'s session state (called by the ``/last`` handler)."""
    client.unlink(*(session_key(user, part) for part in PARTS))


@dataclass
class Session:
    """A snapshot of a user's session state (only the parts that were asked for are filled).

    Attributes:
        heard: tracks played in this session, including the current request's ``prev_track``.
        recommended: tracks recommended in this session (before this request's answer).
        recent: latest listens, newest first, as ``(track, time)``.
        state: the session's small values, as strings.
    """

    heard: set[int] = field(default_factory=set)
    recommended: set[int] = field(default_factory=set)
    recent: list[tuple[int, float]] = field(default_factory=list)
    state: dict[str, str] = field(default_factory=dict)


def _ints(members: object) -> set[int]:
    out = set()
    for member in members or ():
        try:
            out.add(int(member))
        except (TypeError, ValueError):
            continue
    return out


def _listens(items: object) -> list[tuple[int, float]]:
    out = []
    for item in items or ():
        try:
            track, time = orjson.loads(item)
            out.append((int(track), float(time)))
        except (orjson.JSONDecodeError, TypeError, ValueError):
            continue
    return out


class SessionStore:
    """Queues a request's session reads and writes into a :class:`Batch`."""

    def __init__(self, ttl: int, recent_size: int = RECENT_SIZE) -> None:
        """Args:
        ttl: seconds the state lives after the last write (``SESSION_TTL``).
        recent_size: how many recent listens to keep.
        """
        self.ttl = max(1, int(ttl))
        self.recent_size = recent_size

    def queue_observe(
        self,
        batch: Batch,
        user: int,
        prev_track: int,
        prev_time: float,
        *,
        heard: bool = True,
        recommended: bool = False,
        recent: bool = False,
        state: bool = False,
    ) -> Callable[[], Session]:
        """Record the listen the request reports, and read the session back in the same round trip.

        Args:
            batch: where the commands are queued.
            user: the user.
            prev_track: the track just played (added to ``heard`` and ``recent``).
            prev_time: how much of it was listened to.
            heard: read the heard set (it always includes ``prev_track``).
            recommended: read the recommended set.
            recent: read the recent listens (it always starts with this one).
            state: read the state hash.

        Returns:
            A function to call after ``batch.execute()`` that gives the :class:`Session`.
        """
        heard_key = session_key(user, "heard")
        recent_key = session_key(user, "recent")
        batch.add("sadd", heard_key, prev_track)
        batch.add("expire", heard_key, self.ttl)
        batch.add("lpush", recent_key, orjson.dumps([prev_track, prev_time]))
        batch.add("ltrim", recent_key, 0, self.recent_size - 1)
        batch.add("expire", recent_key, self.ttl)
        at = {
            "heard": batch.add("smembers", heard_key) if heard else None,
            "recs": batch.add("smembers", session_key(user, "recs")) if recommended else None,
            "recent": batch.add("lrange", recent_key, 0, -1) if recent else None,
            "state": batch.add("hgetall", session_key(user, "state")) if state else None,
        }

        def resolve() -> Session:
            session = Session()
            if at["heard"] is not None:
                session.heard = _ints(batch.result(at["heard"]))
            session.heard.add(prev_track)
            if at["recs"] is not None:
                session.recommended = _ints(batch.result(at["recs"]))
            if at["recent"] is not None:
                session.recent = _listens(batch.result(at["recent"])) or [(prev_track, prev_time)]
            if at["state"] is not None:
                raw = batch.result(at["state"]) or {}
                session.state = {k.decode(): v.decode() for k, v in raw.items()}
            return session

        return resolve

    def queue_update(
        self,
        batch: Batch,
        user: int,
        *,
        recommended: int | None = None,
        state: Mapping[str, str] | None = None,
    ) -> None:
        """Queue writes after the answer is known: the recommended track, state values."""
        if recommended is not None:
            key = session_key(user, "recs")
            batch.add("sadd", key, recommended)
            batch.add("expire", key, self.ttl)
        if state:
            key = session_key(user, "state")
            batch.add("hset", key, mapping=dict(state))
            batch.add("expire", key, self.ttl)

    def update(
        self,
        client: redis.Redis,
        user: int,
        *,
        recommended: int | None = None,
        state: Mapping[str, str] | None = None,
    ) -> None:
        """Write the recommended track and state values now (one round trip)."""
        batch = Batch(client)
        self.queue_update(batch, user, recommended=recommended, state=state)
        batch.execute()
