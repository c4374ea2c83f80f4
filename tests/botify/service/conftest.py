"""Fixtures of the service tests: a catalog in the session's Redis, the app, its test client."""

from __future__ import annotations

import pytest

from botify.service.app import create_app
from botify.store.catalog import load_records

# Three artists; track ids are sparse on purpose.
RECORDS = [
    {"track": 3, "artist": "Alpha", "title": "One", "genre": "rock", "year": 1991},
    {"track": 5, "artist": "Alpha", "title": "Two", "genre": "rock", "year": 1992},
    {"track": 8, "artist": "Alpha", "title": "Three", "genre": "rock", "year": 1993},
    {"track": 13, "artist": "Beta", "title": "Solo", "genre": "jazz", "year": 2001},
    {"track": 21, "artist": "Gamma", "title": "Uno", "genre": "pop", "year": 2010},
    {"track": 34, "artist": "Gamma", "title": "Dos", "genre": "pop", "year": 2011},
]
TRACKS = sorted(r["track"] for r in RECORDS)


def service_config(redis_url: str, log_file, **extra) -> dict:
    """A complete, explicit service config (independent of the repository's config.json)."""
    config = {
        "REDIS_URL": redis_url,
        "DATA_LOG_FILE": str(log_file),
        "RECOMMENDERS": {"random": {"type": "random"}, "sticky_artist": {"type": "sticky_artist"}},
        "EXPERIMENTS": {
            "STICKY_ARTIST": ["random", "sticky_artist"],
            "AA": ["random", "random"],
        },
        "ACTIVE_EXPERIMENT": "STICKY_ARTIST",
        # Every request checks the catalog version, so a test sees a reload at once.
        "VERSION_CHECK_INTERVAL": 0,
    }
    config.update(extra)
    return config


@pytest.fixture()
def loaded_redis(redis_client):
    """The session's Redis, flushed, with :data:`RECORDS` as the catalog."""
    load_records(redis_client, RECORDS)
    return redis_client


@pytest.fixture()
def tracks_file(tmp_path):
    """A catalog file for the tests that run ``botify serve`` for real."""
    from tests.botify.service.serving import write_tracks

    return write_tracks(tmp_path)


@pytest.fixture()
def log_file(tmp_path):
    return tmp_path / "log" / "data.jsonl"


@pytest.fixture()
def app(redis_server, loaded_redis, log_file):
    app = create_app(service_config(redis_server.url, log_file))
    yield app
    app.extensions["botify"].close()


@pytest.fixture()
def client(app):
    return app.test_client()


def read_log(app) -> list[dict]:
    """Flush the app's event log and read its lines."""
    import json

    service = app.extensions["botify"]
    service.close()
    path = service.event_log.path
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
