"""The four endpoints, /health, and the event log they write."""

import os
from dataclasses import dataclass

import pytest

from botify.experiments import Experiment
from botify.service.app import create_app
from tests.botify.service.conftest import RECORDS, TRACKS, read_log, service_config

STICKY = Experiment("STICKY_ARTIST", ("random", "sticky_artist"))
AA = Experiment("AA", ("random", "random"))


def test_hello(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_json()["status"] == "alive"


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["catalog"]["tracks"] == len(RECORDS)


def test_track_record_with_extra_fields(client):
    response = client.get("/track/5")
    assert response.status_code == 200
    assert response.get_json() == RECORDS[1]


def test_course_client_format(client):
    # The course's client: requests.post(url, json={"track": ..., "time": ...}).json()["track"]
    response = client.post("/next/17", json={"track": 13, "time": 1.0},
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert body["user"] == 17 and body["track"] in TRACKS
    assert client.post("/last/17", json={"track": body["track"], "time": 0.3}).get_json() == {
        "user": 17
    }


def test_next_and_last_are_logged(app, client):
    users = range(40)
    answers = {}
    for user in users:
        answers[user] = client.post(f"/next/{user}", json={"track": 3, "time": 0.75}).get_json()
    client.post("/last/7", json={"track": 21, "time": 0.25})
    events = read_log(app)
    assert len(events) == 41
    for user, event in zip(users, events, strict=False):
        expected = STICKY.recommenders[STICKY.bucket(user)]
        assert event["message"] == "next"
        assert event["user"] == user and event["track"] == 3 and event["time"] == 0.75
        assert event["recommendation"] == answers[user]["track"]
        assert event["experiments"] == {"STICKY_ARTIST": STICKY.assign(user), "AA": AA.assign(user)}
        assert event["recommender"] == expected
        assert isinstance(event["timestamp"], int) and event["timestamp"] > 1.6e12
        assert 0 < event["latency"] < 1
        if expected == "sticky_artist":
            # Another track of Alpha (3, 5, 8), never the one just played.
            assert event["recommendation"] in (5, 8)
    last = events[-1]
    assert last["message"] == "last" and last["recommendation"] is None and last["user"] == 7
    assert last["recommender"] == STICKY.recommenders[STICKY.bucket(7)]
    assert set(events[0]) == {"message", "timestamp", "user", "track", "time", "latency",
                              "recommendation", "experiments", "recommender", "id"}
    # Every event's id is this process's source and its sequence number, from 1, without gaps.
    sources = {e["id"].rpartition(":")[0] for e in events}
    assert len(sources) == 1 and str(os.getpid()) in sources.pop()
    assert [int(e["id"].rpartition(":")[2]) for e in events] == list(range(1, len(events) + 1))


def test_events_read_back_with_the_shared_reader(app, client):
    from botify.events import read_events

    for user in range(5):
        client.post(f"/next/{user}", json={"track": 13, "time": 0.5})
    client.post("/last/4", json={"track": 13, "time": 0.5})
    read_log(app)
    frame = read_events([app.extensions["botify"].event_log.path])
    assert len(frame) == 6 and list(frame["message"]).count("last") == 1


class Exploding:
    """A recommender plugin (given by its import path) that fails or answers ``answer``."""

    @dataclass(frozen=True)
    class Params:
        answer: int | str | None = None

    def __init__(self, context, params):
        self.answer = params.answer

    def recommend_next(self, user, prev_track, prev_time):
        if self.answer is None:
            raise RuntimeError("boom")
        return self.answer


@pytest.mark.parametrize("answer", [None, 4, "x"], ids=["raises", "not-in-catalog", "not-an-id"])
def test_failing_recommender_falls_back_to_random(
    redis_server, loaded_redis, log_file, caplog, answer
):
    plugin = f"{__name__}:Exploding"
    spec = {"type": plugin} if answer is None else {"type": plugin, "answer": answer}
    config = service_config(
        redis_server.url, log_file,
        RECOMMENDERS={"bad": spec}, EXPERIMENTS={"X": ["bad"]}, ACTIVE_EXPERIMENT="X",
    )
    app = create_app(config)
    client = app.test_client()
    for user in range(10):
        response = client.post(f"/next/{user}", json={"track": 3, "time": 0.5})
        assert response.status_code == 200 and response.get_json()["track"] in TRACKS
    events = read_log(app)
    assert len(events) == 10 and {e["recommender"] for e in events} == {"bad"}
    assert "random" in caplog.text


def test_empty_catalog_says_so(redis_server, redis_client, log_file):
    app = create_app(service_config(redis_server.url, log_file))
    response = app.test_client().post("/next/1", json={"track": 3, "time": 0.5})
    assert response.status_code == 404
    assert "catalog is empty" in response.get_json()["message"]
    assert app.test_client().get("/health").get_json()["catalog"]["tracks"] == 0
    app.extensions["botify"].close()


def test_catalog_reload_is_seen_by_the_next_request(app, client, loaded_redis):
    from botify.store.catalog import load_records

    assert client.post("/next/1", json={"track": 3, "time": 0.5}).status_code == 200
    load_records(loaded_redis, [{"track": 100, "artist": "New", "title": "Fresh"}])
    assert client.post("/next/1", json={"track": 3, "time": 0.5}).status_code == 404
    response = client.post("/next/1", json={"track": 100, "time": 0.5})
    assert response.status_code == 200 and response.get_json()["track"] == 100


def test_catalog_checks_are_throttled(redis_server, loaded_redis, log_file):
    """With VERSION_CHECK_INTERVAL, a worker asks Redis for the version at most that often."""
    import time

    from botify.store.catalog import load_records

    app = create_app(service_config(redis_server.url, log_file, VERSION_CHECK_INTERVAL=0.3))
    client = app.test_client()
    assert client.post("/next/1", json={"track": 3, "time": 0.5}).status_code == 200
    load_records(loaded_redis, [{"track": 100, "artist": "New", "title": "Fresh"}])
    assert client.post("/next/1", json={"track": 3, "time": 0.5}).status_code == 200
    time.sleep(0.35)
    assert client.post("/next/1", json={"track": 3, "time": 0.5}).status_code == 404
    app.extensions["botify"].close()


def test_startup_says_which_arm_reads_an_artifact_nothing_loaded(redis_server, loaded_redis,
                                                                   log_file):
    from botify.service.startup import prepare

    config = service_config(redis_server.url, log_file, EXPERIMENTS={"X": ["random", "i2i"]},
                            ACTIVE_EXPERIMENT="X")
    said = []
    prepare(config, said.append)
    assert any("arm 'i2i' reads the artifact 'i2i_cooc', which is not loaded" in s for s in said)
    assert not any("'random'" in s for s in said)
