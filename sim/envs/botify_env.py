"""``sim/Botify-v0``: the simulated user as a gymnasium environment.

An episode is one session. The observation is ``{"user": position, "track": position}`` of the
track just played (the first track after ``reset``); the action is the position of the next track;
the reward is the fraction of it listened to; the episode terminates when the user leaves.
Positions index the world's arrays: the ids are ``env.unwrapped.world.track_ids[...]``.

``reset(options={"start": SessionStart(...)})`` plays a planned session (see
:func:`sim.envs.session.plan_sessions`), exactly as :func:`sim.rollout.run_episodes` does, and
``options={"user": u}`` picks the user; otherwise everything is drawn from ``self.np_random``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from sim.envs.session import Session, SessionStart, start_session
from sim.world.files import load_world
from sim.world.generate import generate_world
from sim.world.model import World


class BotifyEnv(gym.Env[dict[str, Any], np.int64]):
    """Sessions of simulated users; the agent recommends one track per step.

    Args:
        world: the world to play in.
        world_dir: a world directory to load (when ``world`` is not given).
        render_mode: None, "ansi" (``render`` returns a line) or "human" (prints it).
        default_tracks: size of the world generated when neither ``world`` nor ``world_dir`` is
            given (seed 0).
        default_users: number of users of that world.
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(
        self,
        world: World | None = None,
        world_dir: str | None = None,
        render_mode: str | None = None,
        default_tracks: int = 2000,
        default_users: int = 500,
    ) -> None:
        if world is None:
            world = (
                load_world(world_dir)
                if world_dir is not None
                else generate_world(0, default_tracks, default_users)
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        self.world = world
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(world.n_tracks)
        self.observation_space = spaces.Dict(
            {"user": spaces.Discrete(world.n_users), "track": spaces.Discrete(world.n_tracks)}
        )
        self.session: Session | None = None

    def _observation(self) -> dict[str, Any]:
        assert self.session is not None
        return {"user": np.int64(self.session.user), "track": np.int64(self.session.last_track)}

    def _info(self) -> dict[str, Any]:
        assert self.session is not None
        s = self.session
        return {
            "user_id": s.user_id,
            "track_id": int(self.world.track_ids[s.last_track]),
            "budget": s.budget,
            "steps": s.steps,
            "session_time": s.reward,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a new session.

        Args:
            seed: seeds ``self.np_random``.
            options: ``{"start": SessionStart}`` to play a planned session, or ``{"user": u}`` to
                pick the user (a position).

        Returns:
            The first observation and an info dict (ids, budget, steps, session time).
        """
        super().reset(seed=seed)
        options = options or {}
        start = options.get("start")
        if start is None:
            start = start_session(self.world, self.np_random, options.get("user"))
        elif not isinstance(start, SessionStart):
            raise TypeError("options['start'] must be a SessionStart")
        self.session = Session(self.world, start)
        return self._observation(), self._info()

    def step(self, action: int | np.integer) -> tuple[dict[str, Any], float, bool, bool, dict]:
        """Play the recommended track.

        Returns:
            observation, reward (the listened fraction), terminated (the user left), truncated
            (always False), info.

        Raises:
            RuntimeError: called before ``reset`` or after the session ended.
        """
        if self.session is None or self.session.done:
            raise RuntimeError("call reset() before step(): no session is running")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not a track position of the world")
        reward = self.session.listen(int(action))
        if self.render_mode == "human":
            print(self._line())
        return self._observation(), float(reward), self.session.done, False, self._info()

    def render(self) -> str | None:
        """The last played track and how much of it was listened to ("ansi" returns it)."""
        if self.session is None or self.render_mode is None:
            return None
        if self.render_mode == "human":
            print(self._line())
            return None
        return self._line()

    def _line(self) -> str:
        assert self.session is not None
        s = self.session
        record = self.world.track_record(s.last_track)
        return (
            f"user {s.user_id} step {s.steps}: {record['artist']} - {record['title']} "
            f"(track {record['track']}) listened {s.last_time:.2f}, budget {s.budget}"
        )
