"""Every recommender behind the real service, routed by the ``ALL`` experiment.

Two ``botify serve`` instances (gunicorn, gevent workers) sharing one Redis serve the same users
consistently. (No ``redis_client`` fixture here: it flushes the Redis the services run on.)
"""

from __future__ import annotations

from itertools import cycle

import numpy as np
import pytest
import requests

from botify.events import iter_events
from botify.experiments import Experiment
from botify.recommenders.base import RecommenderContext
from botify.recommenders.contract import promises_no_repeats
from botify.recommenders.favorites import PREFIX as LIKES
from botify.recommenders.registry import build_recommenders
from botify.store import connect
from botify.store.catalog import RedisCatalog
from botify.store.sessions import PARTS, session_key
from tests.botify.recommenders.conftest import (
    ARTIFACTS,
    CATALOG,
    RECOMMENDERS,
    TRACKS,
    write_jsonl,
)
from tests.botify.service.serving import ServeProcess

NAMES = sorted(RECOMMENDERS)
ALL = Experiment("ALL", tuple(NAMES))
TIMES = [1.0, 0.9, 0.2, 0.85, 0.0, 1.0, 0.5, 0.95, 0.1, 0.8, 0.3, 1.0]


def user_list(user: int) -> list[int]:
    """The per-user list of every user in this test's multidae artifact."""
    return [(user * 7 + k) % len(CATALOG) for k in range(4)]


def users_of(name: str, count: int) -> list[int]:
    """The first ``count`` users (from 100) the ALL experiment routes to recommender ``name``."""
    index = NAMES.index(name)
    return [u for u in range(100, 5000) if ALL.bucket(u) == index][:count]


@pytest.fixture(scope="module")
def servers(redis_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("two")
    artifacts = {name: write_jsonl(tmp / f"{name}.jsonl", rs) for name, rs in ARTIFACTS.items()}
    artifacts["multidae"] = write_jsonl(
        tmp / "multidae_all.jsonl", [{"user": u, "tracks": user_list(u)} for u in range(5000)]
    )
    config = {
        "REDIS_URL": redis_server.url,
        "TRACKS_CATALOG": write_jsonl(tmp / "tracks.jsonl", CATALOG),
        "ARTIFACTS": artifacts,
        "DATA_LOG_FILE": "log/data.jsonl",
        "SESSION_TTL": 600,
        "RECOMMENDERS": RECOMMENDERS,
        "EXPERIMENTS": {"ALL": NAMES},
        "ACTIVE_EXPERIMENT": "ALL",
    }
    connect(redis_server.url).flushdb()
    first = ServeProcess(tmp / "a", config, workers=2).start(timeout=60)
    try:
        second = ServeProcess(tmp / "b", config, workers=2).start(timeout=60)
    except BaseException:
        first.stop()
        raise
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture(scope="module")
def no_repeats(servers, redis_server) -> set[str]:
    """The names of the configured recommenders that promise never to repeat a track of the
    session (built here to ask them; building writes nothing to Redis)."""
    client = connect(redis_server.url)
    config = {"SESSION_TTL": 600, "RECOMMENDERS": RECOMMENDERS}
    context = RecommenderContext(client, RedisCatalog(client), config, np.random.default_rng(0))
    built = build_recommenders(config, context)
    return {name for name, recommender in built.items() if promises_no_repeats(recommender)}


def next_track(server, user: int, track: int, time: float) -> int:
    response = requests.post(f"{server.url}/next/{user}", json={"track": track, "time": time})
    assert response.status_code == 200, response.text
    return response.json()["track"]


def session(servers, user: int, first: int) -> list[int]:
    """A session whose requests alternate between the two services; ends with /last."""
    tracks, prev = [first], first
    alternating = cycle(servers)
    for time in TIMES:
        prev = next_track(next(alternating), user, prev, time)
        tracks.append(prev)
    last = next(alternating)
    response = requests.post(f"{last.url}/last/{user}", json={"track": prev, "time": 0.5})
    assert response.status_code == 200
    return tracks


@pytest.mark.parametrize("name", NAMES)
def test_sessions_across_two_services(name, servers, no_repeats, redis_server):
    redis_client = connect(redis_server.url)
    for user, first in zip(users_of(name, 3), [0, 30, 40], strict=True):
        tracks = session(servers, user, first)
        assert set(tracks) <= TRACKS
        if name in no_repeats:
            assert len(set(tracks)) == len(tracks), tracks
        if name == "indexed":
            # Ordered: the list in relevance order whichever process serves, then the popular head.
            expected = [t for t in user_list(user) if t != first]
            assert tracks[1 : 1 + len(expected)] == expected
        # /last ended the session state on whichever process served it.
        assert not any(redis_client.exists(session_key(user, part)) for part in PARTS)


def test_favorites_likes_recorded_on_one_service_serve_the_other(servers, redis_server):
    client = connect(redis_server.url)
    client.delete(*client.keys(f"{LIKES}:*"))  # the likes of the other tests' sessions
    liker, listener = users_of("favorites", 5)[3:]
    a, b = servers
    next_track(a, liker, 0, 1.0)
    next_track(a, liker, 45, 1.0)
    requests.post(f"{a.url}/last/{liker}", json={"track": 45, "time": 1.0})
    # The only other user who liked 0 also liked 45.
    assert next_track(b, listener, 0, 1.0) == 45


def test_events_name_the_recommender_of_the_user_s_treatment(servers):
    # Last in the module: it stops the services to flush their event logs.
    user = users_of("top_pop", 1)[0]
    requests.post(f"{servers[0].url}/next/{user}", json={"track": 0, "time": 1})
    for server in servers:
        server.stop()
        lines = list(iter_events([server.workdir / "log"]))
        assert lines
        for event in lines:
            assert event["recommender"] == NAMES[ALL.bucket(event["user"])]
            assert event["experiments"]["ALL"] == ALL.assign(event["user"])
