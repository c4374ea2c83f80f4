"""Fixtures shared by every test package: a real, private Redis for the whole session."""

from __future__ import annotations

import pytest

from botify.recommenders.support import READERS_ATTRIBUTE
from botify.store import EmbeddedRedis, connect


@pytest.fixture(scope="session")
def redis_server():
    """A private ``redis-server`` on a free port, stopped after the session."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture()
def redis_client(redis_server):
    """A client of the session's Redis, flushed before each test (and without the artifact
    versions an earlier test's recommenders remembered)."""
    client = connect(redis_server.url)
    client.flushdb()
    vars(client).pop(READERS_ATTRIBUTE, None)
    return client
