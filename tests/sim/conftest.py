"""Fixtures of the simulator's tests: small generated worlds."""

from __future__ import annotations

import pytest

from sim.world import World, generate_world, save_world


@pytest.fixture(scope="session")
def small_world() -> World:
    """2,000 tracks, 300 users."""
    return generate_world(seed=5, n_tracks=2000, n_users=300)


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory, small_world):
    """``small_world`` written to a directory."""
    return save_world(small_world, tmp_path_factory.mktemp("world"))
