"""The simulated user: the session core and the gymnasium environment ``sim/Botify-v0``."""

import gymnasium

from sim.envs.botify_env import BotifyEnv
from sim.envs.session import Session, SessionStart, plan_sessions, start_session

ENV_ID = "sim/Botify-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="sim.envs.botify_env:BotifyEnv")

__all__ = ["ENV_ID", "BotifyEnv", "Session", "SessionStart", "plan_sessions", "start_session"]
