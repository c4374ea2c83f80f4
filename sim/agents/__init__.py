"""Agents that recommend tracks to simulated sessions."""

from sim.agents.base import Agent, AgentBase
from sim.agents.console import ConsoleAgent
from sim.agents.dummy import RandomAgent
from sim.agents.oracle import OracleAgent
from sim.agents.recommender import Recommender, RecommenderAgent
from sim.agents.remote import RemoteAgent
from sim.agents.sticky import StickyArtistAgent

__all__ = [
    "Agent",
    "AgentBase",
    "ConsoleAgent",
    "OracleAgent",
    "RandomAgent",
    "Recommender",
    "RecommenderAgent",
    "RemoteAgent",
    "StickyArtistAgent",
]
