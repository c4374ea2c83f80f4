"""A listening session: the simulated user model, as a small fast core.

How a session goes:

* it starts from a :class:`SessionStart`: the user, the interest that sets the session's hidden
  taste (that track's embedding), the first track (one of the ``interest_neighbours`` tracks
  nearest to the taste, played with time 1.0) and the seed of the session's own random stream;
* :meth:`Session.listen` plays a recommended track: time 0 if it was already played in the session,
  else ``round(sigmoid((dot(track, taste) - consume_bias) * consume_sharpness) * gamma ** k, 2)``
  where ``k`` counts the session's earlier tracks by the same artist; then, with probability
  ``1 - time``, the budget drops by one; the session is over when the budget reaches 0.

Common random numbers: everything random about a session comes from its :class:`SessionStart`, so
two agents played on the same starts meet the same users, tastes, first tracks and budget draws; the
only difference left is what they recommend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.world.model import World

# Budget draws are taken from the session's generator this many at a time.
_DRAW_BLOCK = 16


@dataclass(frozen=True)
class SessionStart:
    """Everything random about a session, fixed before it is played.

    Attributes:
        user: the user's position in the world.
        interest: position of the interest track whose embedding is the session's taste.
        first_track: position of the first track (played with time 1.0).
        seed: seed of the session's stream of budget draws.
    """

    user: int
    interest: int
    first_track: int
    seed: int


def plan_sessions(
    world: World,
    n_episodes: int,
    seed: int | np.random.SeedSequence,
    users: Sequence[int] | np.ndarray | None = None,
) -> list[SessionStart]:
    """The starts of ``n_episodes`` sessions: users drawn uniformly, then interest and first track.

    The same world, seed and users give the same starts, so agents can be compared on identical
    sessions (common random numbers).

    Args:
        world: the world.
        n_episodes: number of sessions.
        seed: seed of the plan.
        users: user *positions* to draw from (uniformly, with replacement); default all users.

    Returns:
        One :class:`SessionStart` per episode.
    """
    rng = np.random.default_rng(seed)
    pool = np.arange(world.n_users) if users is None else np.asarray(users, dtype=np.int64)
    if len(pool) == 0:
        raise ValueError("no users to draw sessions from")
    chosen = pool[rng.integers(0, len(pool), size=n_episodes)]
    counts = world.interest_offsets[chosen + 1] - world.interest_offsets[chosen]
    interests = world.interest_tracks[
        world.interest_offsets[chosen] + (rng.random(n_episodes) * counts).astype(np.int64)
    ]
    picks = rng.random(n_episodes)
    seeds = rng.integers(0, 2**63 - 1, size=n_episodes)
    starts = []
    for k in np.unique(world.interest_neighbours[chosen]).tolist():
        mask = world.interest_neighbours[chosen] == k
        nearest = world.nearest(interests[mask], k)
        for i, options in zip(np.flatnonzero(mask).tolist(), nearest, strict=True):
            first = int(options[int(picks[i] * len(options))])
            starts.append(
                (i, SessionStart(int(chosen[i]), int(interests[i]), first, int(seeds[i])))
            )
    starts.sort(key=lambda item: item[0])
    return [start for _, start in starts]


def start_session(world: World, rng: np.random.Generator, user: int | None = None) -> SessionStart:
    """One session start drawn from ``rng`` (the gymnasium env's way: one ``reset`` at a time).

    Args:
        world: the world.
        rng: the generator to draw from.
        user: the user's position; drawn uniformly if None.

    Returns:
        The start.
    """
    if user is None:
        user = int(rng.integers(0, world.n_users))
    interests = world.interests(user)
    interest = int(interests[int(rng.integers(0, len(interests)))])
    (options,) = world.nearest([interest], int(world.interest_neighbours[user]))
    first = int(options[int(rng.integers(0, len(options)))])
    return SessionStart(user, interest, first, int(rng.integers(0, 2**63 - 1)))


class Session:
    """One session being played (positions of tracks and users, not ids).

    Attributes:
        world: the world.
        start: how the session started.
        user: the user's position.
        user_id: the user's id.
        taste: the hidden taste vector (the interest's embedding).
        budget: what is left of the budget.
        last_track: the track played last (the first track until the first ``listen``).
        last_time: its listened fraction (1.0 for the first track).
        steps: number of recommended tracks played.
        reward: the session time so far: 1.0 for the first track plus the times of the steps.
        played: tracks played in this session.
        artist_plays: artist index -> number of tracks by it played in this session.
        done: whether the session is over.
    """

    __slots__ = (
        "world",
        "start",
        "user",
        "user_id",
        "taste",
        "bias",
        "sharpness",
        "gamma",
        "budget",
        "last_track",
        "last_time",
        "steps",
        "reward",
        "played",
        "artist_plays",
        "done",
        "_rng",
        "_draws",
        "_embeddings",
        "_artist_of",
    )

    def __init__(
        self, world: World, start: SessionStart, rng: np.random.Generator | None = None
    ) -> None:
        """Start a session.

        Args:
            world: the world.
            start: the session's start.
            rng: the generator of budget draws; default one seeded with ``start.seed``.
        """
        self.world = world
        self.start = start
        self.user = start.user
        self.user_id = int(world.user_ids[start.user])
        self.taste = world.embeddings[start.interest]
        self.bias = float(world.consume_bias[start.user])
        self.sharpness = float(world.consume_sharpness[start.user])
        self.gamma = float(world.artist_gamma[start.user])
        self.budget = int(world.session_budget[start.user])
        self._embeddings = world.embeddings
        self._artist_of = world.artist_of
        self.last_track = start.first_track
        self.last_time = 1.0
        self.steps = 0
        self.reward = 1.0
        self.played = {start.first_track}
        self.artist_plays = {int(world.artist_of[start.first_track]): 1}
        self.done = False
        self._rng = rng if rng is not None else np.random.Generator(np.random.PCG64(start.seed))
        self._draws: list[float] = []

    def listening_time(self, track: int) -> float:
        """The fraction of ``track`` the user would listen to now (no state changes)."""
        if track in self.played:
            return 0.0
        score = float(self._embeddings[track] @ self.taste)
        x = (score - self.bias) * self.sharpness
        # expit, written to stay finite for any x
        raw = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        k = self.artist_plays.get(int(self._artist_of[track]), 0)
        # round half to even on the hundredths, as numpy.around(x, 2) does
        return round(raw * self.gamma**k * 100.0) / 100.0

    def listen(self, track: int) -> float:
        """Play the recommended ``track``: the time listened, which is this step's reward.

        Raises:
            RuntimeError: the session is over.
            IndexError: ``track`` is not a track position of the world.
        """
        if self.done:
            raise RuntimeError("the session is over")
        track = int(track)
        if not 0 <= track < len(self._embeddings):
            raise IndexError(f"no track at position {track}")
        time = self.listening_time(track)
        if not self._draws:
            self._draws = self._rng.random(_DRAW_BLOCK).tolist()[::-1]
        if self._draws.pop() > time:
            self.budget -= 1
        self.played.add(track)
        artist = int(self._artist_of[track])
        self.artist_plays[artist] = self.artist_plays.get(artist, 0) + 1
        self.last_track = track
        self.last_time = time
        self.steps += 1
        self.reward += time
        if self.budget <= 0:
            self.done = True
        return time
