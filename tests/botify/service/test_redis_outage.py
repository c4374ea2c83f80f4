"""A Redis outage under concurrent load: every client gets its 503 at once, then service resumes.

A real ``botify serve`` (gunicorn, two gevent workers) in front of a redis-server the test owns;
the test kills that Redis, sends many concurrent requests, restarts it on the same port and checks
that the service answers again.
"""

from __future__ import annotations

import statistics
import threading
import time

import redis
import requests

from botify.store.catalog import load_catalog
from tests.botify.service.serving import SERVE_CONFIG, KillableRedis, ServeProcess

# Every request asks Redis for the catalog version, so every request meets the outage.
CONFIG = {**SERVE_CONFIG, "VERSION_CHECK_INTERVAL": 0}
CLIENTS = 32
REQUESTS_EACH = 20
# The whole burst must be over by then (640 requests); a worker that blocks on its retries needs
# about 40 s for them, so the test fails in bounded time rather than hanging.
BURST_DEADLINE = 15.0


def burst(url: str, clients: int, each: int) -> tuple[list[tuple[float, int, dict | None]], float]:
    """``clients`` threads, each posting ``each`` plays over its own keep-alive connection.

    Returns:
        (latency in seconds, status, JSON body or None) of every answered request, and the wall
        time of the burst.
    """
    answers: list[tuple[float, int, dict | None]] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = time.monotonic() + BURST_DEADLINE

    def client(user: int) -> None:
        session = requests.Session()
        start.wait()
        for _ in range(each):
            if time.monotonic() > deadline:
                break
            began = time.perf_counter()
            try:
                response = session.post(f"{url}/next/{user}", json={"track": 5, "time": 0.5},
                                        timeout=5)
            except requests.RequestException:
                continue  # not answered: missing from the count
            elapsed = time.perf_counter() - began
            try:
                body = response.json()
            except ValueError:
                body = None
            with lock:
                answers.append((elapsed, response.status_code, body))
        session.close()

    threads = [threading.Thread(target=client, args=(user,), daemon=True)
               for user in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(BURST_DEADLINE + 10)
    return answers, time.perf_counter() - began


def test_outage_answers_every_client_fast_then_recovers(tracks_file, tmp_path):
    store = KillableRedis(tmp_path / "redis").start()
    config = {**CONFIG, "REDIS_URL": store.url, "TRACKS_CATALOG": str(tracks_file)}
    try:
        with ServeProcess(tmp_path / "serve", config, workers=2) as server:
            for user in range(8):  # new connections, so both workers have pooled connections
                response = requests.post(f"{server.url}/next/{user}",
                                         json={"track": 5, "time": 0.5}, timeout=5)
                assert response.status_code == 200
            store.kill()

            answers, wall = burst(server.url, CLIENTS, REQUESTS_EACH)
            latencies = sorted(elapsed for elapsed, _, _ in answers)
            p50 = statistics.median(latencies) if latencies else float("inf")
            worst = latencies[-1] if latencies else float("inf")
            print(f"\noutage: {len(answers)} answers in {wall:.2f} s "
                  f"({len(answers) / wall:.0f} requests/s), p50 {p50 * 1000:.1f} ms, "
                  f"max {worst * 1000:.1f} ms")
            assert len(answers) == CLIENTS * REQUESTS_EACH, (
                f"only {len(answers)} of {CLIENTS * REQUESTS_EACH} requests answered within "
                f"{BURST_DEADLINE:.0f} s"
            )
            for _, status, body in answers:
                assert status == 503, body
                assert body is not None and "Redis is unreachable" in body["message"]
            assert p50 < 0.1, f"p50 {p50 * 1000:.0f} ms"
            assert worst < 1.0, f"max {worst * 1000:.0f} ms"

            # Back on the same port, empty: load the catalog again, and both workers serve.
            store.start()
            client = redis.Redis.from_url(store.url)
            load_catalog(client, tracks_file)
            client.close()
            deadline = time.monotonic() + 10
            while requests.get(f"{server.url}/health", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, "the service did not recover in 10 s"
                time.sleep(0.05)
            for user in range(16):  # new connections each: both workers
                response = requests.post(f"{server.url}/next/{user}",
                                         json={"track": 5, "time": 0.5}, timeout=5)
                assert response.status_code == 200, response.text
        assert "Redis unreachable, answering 503" in server.output
        assert "Traceback" not in server.output
    finally:
        store.kill()
