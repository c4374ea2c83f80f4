"""``botify serve`` for real: gunicorn with gevent workers over HTTP, SIGTERM, Redis faults.

Every test starts real processes (``botify serve``, redis-server) on free ports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from botify.events import iter_events
from botify.experiments import Experiment
from botify.store.redis_server import free_port, redis_server_binary
from tests.botify.service.serving import (
    N_TRACKS,
    SERVE_CONFIG,
    ServeProcess,
    botify_command,
)

CONFIG = SERVE_CONFIG


def log_lines(workdir: Path) -> list[dict]:
    return list(iter_events([workdir / "log"]))


def test_sigterm_loses_no_event(redis_server, redis_client, tracks_file, tmp_path):
    """Clients keep posting while the server gets SIGTERM: every 200 answer has its line."""
    config = {**CONFIG, "REDIS_URL": redis_server.url, "TRACKS_CATALOG": str(tracks_file)}
    server = ServeProcess(tmp_path / "serve", config).start()
    accepted = []
    stop = threading.Event()

    def client(user: int) -> None:
        session = requests.Session()
        count = 0
        while not stop.is_set():
            try:
                response = session.post(f"{server.url}/next/{user}",
                                        json={"track": count % N_TRACKS, "time": 0.5}, timeout=5)
            except requests.RequestException:
                break
            if response.status_code != 200:
                break
            count += 1
        accepted.append(count)

    threads = [threading.Thread(target=client, args=(user,)) for user in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    status = server.stop()
    stop.set()
    for thread in threads:
        thread.join(10)
    assert status == 0, server.output
    total = sum(accepted)
    assert total > 100, f"too few requests were served ({total}) for the test to mean anything"
    events = log_lines(server.workdir)
    assert len(events) == total
    assert "Traceback" not in server.output


@pytest.mark.parametrize(("options", "what"), [
    ((), "redis-server"),
    (("--redis-cluster", "3"), "Redis Cluster of 3 masters"),
], ids=["redis-server", "cluster"])
def test_own_redis_started_shared_and_stopped(options, what, tracks_file, tmp_path):
    """No REDIS_URL: serve runs its own redis-server (or cluster), others find it, it stops with
    serve."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    workdir = tmp_path / "serve"
    with ServeProcess(workdir, CONFIG, env=env, workers=1, options=options) as server:
        discovery = json.loads(next(runtime.glob("botify-*/redis.json")).read_text())
        redis_url = discovery["url"]
        # `botify load catalog` beside the running service reaches its Redis without flags.
        loaded = subprocess.run(
            botify_command("load", "catalog", str(tracks_file)),
            cwd=workdir, env={**server.env}, capture_output=True, text=True, timeout=60,
        )
        assert loaded.returncode == 0, loaded.stderr
        assert f"{N_TRACKS} tracks" in loaded.stdout
        # ... and `botify redis-url` gives its URL to a second instance.
        printed = subprocess.run(botify_command("redis-url"), env={**server.env},
                                 capture_output=True, text=True, timeout=60)
        assert (printed.returncode, printed.stdout) == (0, redis_url + "\n"), printed.stderr
        response = requests.post(f"{server.url}/next/1", json={"track": 5, "time": 1.0}, timeout=5)
        assert response.status_code == 200
        port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
        assert redis_url.endswith("?cluster=1") == bool(options)
    assert f"started its own {what}" in server.output
    assert f"stopped its {what}" in server.output
    printed = subprocess.run(botify_command("redis-url"), env={**server.env},
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 2
    assert "no running `botify serve` of this user started a Redis" in printed.stderr
    assert not list(runtime.glob("botify-*/redis.json"))
    with pytest.raises(OSError):
        import socket

        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    # Nothing but the config and the event log in the work tree.
    assert sorted(p.name for p in workdir.iterdir()) == ["config.json", "log"]


class RestartableRedis:
    """A redis-server whose data survives a restart (SAVE before stop), like a persistent one."""

    def __init__(self, workdir: Path):
        self.dir = workdir
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.dir), "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        client.close()
        return self

    def stop(self):
        import redis

        client = redis.Redis.from_url(self.url)
        client.save()
        client.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)


def test_redis_down_fails_fast_and_recovers(tracks_file, tmp_path):
    redis_server = RestartableRedis(tmp_path / "redis").start()
    config = {**CONFIG, "REDIS_URL": redis_server.url, "TRACKS_CATALOG": str(tracks_file),
              "VERSION_CHECK_INTERVAL": 0.25}
    try:
        with ServeProcess(tmp_path / "serve", config) as server:
            session = requests.Session()
            body = {"track": 5, "time": 0.5}
            assert session.post(f"{server.url}/next/1", json=body, timeout=5).status_code == 200
            redis_server.stop()
            # A worker notices at its next catalog check (at most VERSION_CHECK_INTERVAL later);
            # from then on every request checks, and fails fast.
            time.sleep(0.3)
            for _ in range(4):  # both workers, new and pooled connections
                started = time.perf_counter()
                response = session.post(f"{server.url}/next/1", json=body, timeout=5)
                elapsed = time.perf_counter() - started
                assert response.status_code == 503
                assert "Redis is unreachable" in response.json()["message"]
                assert elapsed < 1.0
                health = session.get(f"{server.url}/health", timeout=5)
                assert health.status_code == 503 and "unreachable" in health.json()["message"]
            redis_server.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if session.get(f"{server.url}/health", timeout=5).status_code == 200:
                    break
                time.sleep(0.1)
            for user in range(10):
                assert session.post(f"{server.url}/next/{user}", json=body, timeout=5).ok
        events = log_lines(server.workdir)
        assert len(events) == 11, "the refused requests must not be logged"
        assert "Redis unreachable, answering 503" in server.output
        assert "Traceback" not in server.output
    finally:
        if redis_server.process.poll() is None:
            redis_server.process.send_signal(signal.SIGTERM)
            redis_server.process.wait(10)


def test_two_instances_share_redis(redis_server, redis_client, tracks_file, tmp_path):
    """The compose topology without Docker: two services on two ports, one Redis."""
    config = {**CONFIG, "REDIS_URL": redis_server.url, "TRACKS_CATALOG": str(tracks_file)}
    first = ServeProcess(tmp_path / "a", config, workers=1).start()
    try:
        second = ServeProcess(tmp_path / "b", config, workers=1).start()
        try:
            for server in (first, second):
                for user in range(30):
                    response = requests.post(f"{server.url}/next/{user}",
                                             json={"track": user, "time": 0.5}, timeout=5)
                    assert response.status_code == 200
            records = [requests.get(f"{s.url}/track/42", timeout=5).json() for s in (first, second)]
            assert records[0] == records[1] and records[0]["track"] == 42
        finally:
            second.stop()
    finally:
        first.stop()
    assert "already current" in second.output
    sticky = Experiment("STICKY_ARTIST", ("random", "sticky_artist"))
    logs = [log_lines(s.workdir) for s in (first, second)]
    for a, b in zip(*logs, strict=True):
        assert a["user"] == b["user"]
        assert a["experiments"] == b["experiments"]
        assert a["experiments"]["STICKY_ARTIST"] == sticky.assign(a["user"])
        assert a["recommender"] == b["recommender"]


def test_port_in_use_is_a_clear_error(redis_server, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        workdir = tmp_path / "serve"
        workdir.mkdir()
        (workdir / "config.json").write_text(json.dumps({**CONFIG, "REDIS_URL": redis_server.url}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
        done = subprocess.run(botify_command("serve", "--port", str(port)), cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("variable", ["BOTIFY_WORKERS", "BOTIFY_WORKER_CONNECTIONS"])
def test_a_malformed_process_count_is_a_clear_error(variable, redis_server, tmp_path):
    from botify.store.redis_server import free_port

    (tmp_path / "config.json").write_text(json.dumps({**CONFIG, "REDIS_URL": redis_server.url}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
    done = subprocess.run(botify_command("serve", "--port", str(free_port())), cwd=tmp_path,
                          env={**env, variable: "abc"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"{variable} must be a whole number of at least 1, got 'abc'" in done.stderr
    assert "Traceback" not in done.stderr
