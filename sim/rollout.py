"""Playing episodes: the library entry point for running any agent on planned sessions.

    world = load_world("worlds/default")
    starts = plan_sessions(world, 1000, seed=7)          # the same users and sessions ...
    oracle = run_episodes(world, OracleAgent(world), starts)
    remote = run_episodes(world, RemoteAgent(world, url), starts)   # ... for both agents

Episode reward is the session time as the service's log sees it: 1.0 for the first track plus the
times of the recommended tracks; ``steps`` counts the recommended tracks (a session logs ``steps``
``/next`` events and one ``/last``, so the analysis counts ``steps + 1`` tracks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.agents.base import Agent
from sim.envs.session import Session, SessionStart
from sim.threads import single_threaded_blas
from sim.world.model import World


@dataclass(frozen=True)
class EpisodeResults:
    """Per-episode outcomes, in the order of the starts.

    Attributes:
        users: (n,) int64, user ids.
        rewards: (n,) float64, session times (1.0 for the first track plus each step's time).
        steps: (n,) int64, recommended tracks played.
    """

    users: np.ndarray
    rewards: np.ndarray
    steps: np.ndarray

    def __len__(self) -> int:
        return len(self.rewards)

    @staticmethod
    def concat(parts: Sequence[EpisodeResults]) -> EpisodeResults:
        """The results of several runs, one after the other."""
        if not parts:
            return EpisodeResults(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64))
        return EpisodeResults(
            np.concatenate([p.users for p in parts]),
            np.concatenate([p.rewards for p in parts]),
            np.concatenate([p.steps for p in parts]),
        )

    def summary(self) -> dict[str, float]:
        """Mean and standard error of the mean of rewards and steps."""
        return {
            "episodes": len(self),
            "reward_mean": _mean(self.rewards),
            "reward_sem": _sem(self.rewards),
            "steps_mean": _mean(self.steps),
            "steps_sem": _sem(self.steps),
        }


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


def _sem(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


def play_episode(world: World, agent: Agent, start: SessionStart) -> Session:
    """Play one session of ``agent`` from ``start``; returns the finished session."""
    session = Session(world, start)
    agent.start(session)
    while not session.done:
        session.listen(agent.recommend(session))
    agent.finish(session)
    return session


def run_episodes(
    world: World,
    agent: Agent,
    starts: Sequence[SessionStart],
    progress: Callable[[int], object] | None = None,
) -> EpisodeResults:
    """Play ``agent`` on every start, in order.

    Args:
        world: the world.
        agent: the agent.
        starts: the sessions to play (see :func:`sim.envs.session.plan_sessions`).
        progress: called with 1 after each episode (e.g. a tqdm bar's ``update``).

    Returns:
        The per-episode results.
    """
    n = len(starts)
    users = np.empty(n, dtype=np.int64)
    rewards = np.empty(n, dtype=np.float64)
    steps = np.empty(n, dtype=np.int64)
    with single_threaded_blas():
        for i, start in enumerate(starts):
            session = play_episode(world, agent, start)
            users[i] = session.user_id
            rewards[i] = session.reward
            steps[i] = session.steps
            if progress is not None:
                progress(1)
    return EpisodeResults(users, rewards, steps)
