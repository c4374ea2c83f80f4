"""Small event logs with a planted structure, shared by the training tests."""

from __future__ import annotations

import pytest

from botify.training.dataset import session_events, split_by_time
from botify.training.synthetic import generate_events, planted_world, write_event_log

# Tiny sizes: the whole module stays fast, the structure stays learnable.
N_USERS, N_TRACKS, N_GROUPS, N_EVENTS = 300, 300, 6, 30_000


@pytest.fixture(scope="session")
def world():
    """The hidden structure."""
    return planted_world(N_USERS, N_TRACKS, N_GROUPS, rng=0)


@pytest.fixture(scope="session")
def events(world):
    """About 30,000 events played in the world."""
    return generate_events(world, N_EVENTS, rng=1)


@pytest.fixture(scope="session")
def sessions(events):
    """The events, sessionized."""
    return session_events(events)


@pytest.fixture(scope="session")
def holdout(sessions):
    """``(train, test)``: the newest fifth of the sessions held out."""
    return split_by_time(sessions, 0.2)


@pytest.fixture(scope="session")
def log_dir(events, tmp_path_factory):
    """The events written as a rotated log (three files)."""
    directory = tmp_path_factory.mktemp("logs")
    write_event_log(events, directory, lines_per_file=N_EVENTS // 3 + 1)
    return directory


@pytest.fixture(scope="session")
def small_log_dir(world, tmp_path_factory):
    """About 6,000 events as a rotated log, for the end-to-end runs."""
    directory = tmp_path_factory.mktemp("small-logs")
    write_event_log(generate_events(world, 6000, rng=2), directory, lines_per_file=2500)
    return directory
