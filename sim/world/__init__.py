"""The simulated music world: generation, files, and the in-memory model."""

from sim.world.files import UserDefaults, load_world, save_world
from sim.world.generate import WorldParams, generate_world
from sim.world.model import World

__all__ = ["UserDefaults", "World", "WorldParams", "generate_world", "load_world", "save_world"]
