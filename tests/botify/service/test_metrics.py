"""``GET /metrics``: Prometheus text, summed over the gunicorn workers.

Most tests run a real ``botify serve`` with two workers (prometheus_client's multiprocess mode) on
free loopback ports; one uses the Flask test client (a single process's registry).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from botify.events import iter_events
from tests.botify.service.serving import N_TRACKS, SERVE_CONFIG, KillableRedis, ServeProcess

ROOT = Path(__file__).resolve().parents[3]
CONFIG = {**SERVE_CONFIG, "VERSION_CHECK_INTERVAL": 0}
N = 60  # requests per endpoint


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    """One scrape over a new connection: (sample name, labels) -> value."""
    response = requests.get(f"{url}/metrics", timeout=5)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels`` (0 when absent: not counted yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


# Every endpoint, once per request i (a new connection each, so both workers take some).
ENDPOINTS = {
    "/": lambda url, i: requests.get(f"{url}/", timeout=5),
    "/health": lambda url, i: requests.get(f"{url}/health", timeout=5),
    "/track/<track>": lambda url, i: requests.get(f"{url}/track/{i % N_TRACKS}", timeout=5),
    "/next/<user>": lambda url, i: requests.post(
        f"{url}/next/{i}", json={"track": i % N_TRACKS, "time": 0.5}, timeout=5),
    "/last/<user>": lambda url, i: requests.post(
        f"{url}/last/{i}", json={"track": i % N_TRACKS, "time": 0.5}, timeout=5),
}


def send_each(url: str, n: int) -> None:
    """``n`` requests to every endpoint, 8 at a time; every one answered 200."""
    jobs = [(send, i) for send in ENDPOINTS.values() for i in range(n)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda job: job[0](url, job[1]).status_code, jobs))
    assert statuses == [200] * len(jobs)


def request_counts(samples: dict) -> dict[str, float]:
    return {e: value(samples, "botify_requests_total", endpoint=e, status="200")
            for e in ENDPOINTS}


def wait_for_replacement(server: ServeProcess, old: set[int], dead: int,
                         timeout: float = 30) -> int:
    """The pid of the worker gunicorn started in place of ``dead`` (one of ``old``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = server.worker_pids()
        if dead not in pids and len(pids) == server.workers:
            return (pids - old).pop()
        time.sleep(0.05)
    raise AssertionError(f"no worker replaced {dead} within {timeout} s")


def test_counts_are_summed_over_workers_and_survive_a_killed_worker(
    redis_server, redis_client, tracks_file, tmp_path
):
    metrics_dir = tmp_path / "metrics"
    config = {**CONFIG, "TRACKS_CATALOG": str(tracks_file), "REDIS_URL": redis_server.url}
    server = ServeProcess(tmp_path / "serve", config,
                          env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    with server:
        before = scrape(server.url)
        send_each(server.url, N)
        # Both workers served part of it: each wrote its own event-log series.
        series = {}
        for event in iter_events([server.workdir / "log"]):
            source = event["id"].rsplit(":", 1)[0]
            series[source] = series.get(source, 0) + 1
        assert len(series) == 2, series
        assert sum(series.values()) == 2 * N

        scrapes = [scrape(server.url) for _ in range(6)]
        start = request_counts(before)
        for samples in scrapes:
            counts = request_counts(samples)
            assert {e: counts[e] - start[e] for e in ENDPOINTS} == {e: N for e in ENDPOINTS}
            assert (value(samples, "botify_request_duration_seconds_count", endpoint="/next/<user>")
                    - value(before, "botify_request_duration_seconds_count",
                            endpoint="/next/<user>")) == N
            assert total(samples, "botify_next_duration_seconds_count") == N
            assert total(samples, "botify_experiment_requests_total", experiment="AA") == 2 * N
            assert total(samples, "botify_experiment_requests_total",
                         experiment="STICKY_ARTIST") == 2 * N
            assert value(samples, "botify_event_log_written_events_total") == 2 * N
            assert value(samples, "botify_event_log_pending_events") == 0
            assert value(samples, "botify_catalog_tracks") == N_TRACKS
            assert value(samples, "botify_catalog_version") > 0
            assert value(samples, "botify_experiment_active", experiment="STICKY_ARTIST") == 1
            assert value(samples, "botify_experiment_treatment", experiment="STICKY_ARTIST",
                         treatment="T1", recommender="sticky_artist") == 1
        le = {dict(labels)["le"]: v for (name, labels), v in scrapes[-1].items()
              if name == "botify_request_duration_seconds_bucket"
              and ("endpoint", "/next/<user>") in labels}
        assert le["+Inf"] == N + value(before, "botify_request_duration_seconds_count",
                                       endpoint="/next/<user>")

        # SIGKILL one worker: its counters stay in the sum, its replacement starts from zero.
        old = server.worker_pids()
        dead = min(old)
        os.kill(dead, signal.SIGKILL)
        new = wait_for_replacement(server, old, dead)
        assert (metrics_dir / f"counter_{dead}.db").exists()
        assert not (metrics_dir / f"gauge_livesum_{dead}.db").exists()  # marked dead
        after_kill = scrape(server.url)
        assert request_counts(after_kill) == request_counts(scrapes[-1])
        assert value(after_kill, "botify_event_log_written_events_total") == 2 * N

        send_each(server.url, N)
        for _ in range(4):
            counts = request_counts(scrape(server.url))
            assert {e: counts[e] - start[e] for e in ENDPOINTS} == {e: 2 * N for e in ENDPOINTS}
        assert (metrics_dir / f"counter_{new}.db").exists()
        assert len(list(iter_events([server.workdir / "log"]))) == 4 * N
    assert not list(metrics_dir.glob("*.db")), "the master empties the directory at exit"
    assert "Traceback" not in server.output


def test_redis_outage_shows_in_the_error_and_503_counters(tracks_file, tmp_path):
    redis = KillableRedis(tmp_path / "redis").start()
    try:
        config = {**CONFIG, "TRACKS_CATALOG": str(tracks_file), "REDIS_URL": redis.url}
        with ServeProcess(tmp_path / "serve", config) as server:
            send_each(server.url, 5)
            before = scrape(server.url)
            assert value(before, "botify_catalog_version") > 0
            redis.kill()
            failed = 25
            for user in range(failed):
                response = requests.post(f"{server.url}/next/{user}",
                                         json={"track": 1, "time": 0.5}, timeout=5)
                assert response.status_code == 503
            assert requests.get(f"{server.url}/health", timeout=5).status_code == 503
            for _ in range(4):
                samples = scrape(server.url)  # answered without Redis
                for name in ("botify_redis_unavailable_responses_total",
                             "botify_redis_errors_total"):
                    assert value(samples, name, endpoint="/next/<user>") == failed
                    assert value(samples, name, endpoint="/health") == 1
                assert value(samples, "botify_requests_total", endpoint="/next/<user>",
                             status="503") == failed
                assert ("botify_catalog_version", frozenset()) not in samples  # Redis down
            match = re.search(r"the workers' files in (\S+)", server.output)
            assert match and Path(match.group(1)).is_dir()
        assert not Path(match.group(1)).exists(), "the master removes its directory at exit"
    finally:
        redis.kill()


def test_fallbacks_are_counted_by_recommender(redis_server, redis_client, tracks_file, tmp_path):
    plugin = "tests.botify.service.test_api:Exploding"
    config = {
        **CONFIG,
        "TRACKS_CATALOG": str(tracks_file),
        "REDIS_URL": redis_server.url,
        "RECOMMENDERS": {"bad": {"type": plugin}, "odd": {"type": plugin, "answer": 10**9}},
        "EXPERIMENTS": {"X": ["bad", "odd"]},
        "ACTIVE_EXPERIMENT": "X",
    }
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with ServeProcess(tmp_path / "serve", config, env={"PYTHONPATH": pythonpath}) as server:
        jobs = range(2 * N)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda i: ENDPOINTS["/next/<user>"](server.url, i).status_code,
                                     jobs))
        assert statuses == [200] * len(jobs)
        events = list(iter_events([server.workdir / "log"]))
        by_recommender = {name: sum(1 for e in events if e["recommender"] == name and
                                    e.get("fallback")) for name in ("bad", "odd")}
        assert sum(by_recommender.values()) == 2 * N
        for _ in range(3):
            samples = scrape(server.url)
            assert value(samples, "botify_recommender_fallbacks_total", recommender="bad",
                         reason="exception") == by_recommender["bad"]
            assert value(samples, "botify_recommender_fallbacks_total", recommender="odd",
                         reason="not_a_track") == by_recommender["odd"]
            assert value(samples, "botify_next_duration_seconds_count", recommender="bad") \
                == by_recommender["bad"]


def test_in_process_registry(app, client):
    """The Flask test client: one process, its own registry (counts accumulate per process)."""
    before = scrape_client(client)
    for user in range(7):
        assert client.post(f"/next/{user}", json={"track": 3, "time": 0.5}).status_code == 200
    assert client.post("/next/x", json={"track": 3, "time": 0.5}).status_code == 400
    assert client.get("/no/such").status_code == 404
    after = scrape_client(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("botify_requests_total", endpoint="/next/<user>", status="200") == 7
    assert delta("botify_requests_total", endpoint="/next/<user>", status="400") == 1
    assert delta("botify_requests_total", endpoint="unmatched", status="404") == 1
    assert delta("botify_request_duration_seconds_count", endpoint="/next/<user>") == 8
    assert delta("botify_event_log_written_events_total") == 7
    assert value(after, "botify_catalog_tracks") == 6
    assert not any(name.endswith("_created") for name, _ in after)


def scrape_client(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_metrics_off_imports_no_prometheus_client(tmp_path):
    code = (
        "import sys; import botify.service.app as app; "
        "assert 'prometheus_client' not in sys.modules; "
        "from botify.service import metrics; assert not metrics.ENABLED; "
        "from botify.service import gunicorn_conf; assert gunicorn_conf.start_metrics_dir() is None"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["BOTIFY_METRICS"] = "0"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_event_log_reports_written_held_given_up_and_depth(tmp_path):
    """A log that cannot be written: its events are held (the depth gauge follows), then written
    when it recovers, or given up at close."""
    from botify.service import metrics
    from botify.service.event_log import EventLog

    def get(name):
        return metrics.REGISTRY.get_sample_value(name) or 0.0

    names = ("botify_event_log_written_events_total", "botify_event_log_held_events_total",
             "botify_event_log_given_up_events_total")
    start = {name: get(name) for name in names}

    def delta():
        return tuple(get(name) - start[name] for name in names)

    log = EventLog(tmp_path / "d.jsonl", retry_seconds=0, metrics=metrics.event_log_metrics())
    append = log._append

    def failing(data):
        raise OSError(28, "No space left on device")

    log.write({"user": 1})
    log._append = failing
    for user in range(2, 5):
        log.write({"user": user})
    assert delta() == (1, 3, 0) and get("botify_event_log_pending_events") == 3
    log._append = append
    log.state()  # the retry (due at once) writes what was held
    assert delta() == (4, 3, 0) and get("botify_event_log_pending_events") == 0
    log._append = failing
    log.write({"user": 5})
    log.close()
    assert delta() == (4, 4, 1) and get("botify_event_log_pending_events") == 0
