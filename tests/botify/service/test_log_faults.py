"""The event log and the catalog under faults, on the real service (gunicorn, gevent workers).

Rotation by several workers, a log that cannot be written (a file size limit set on the running
worker: the kernel's EFBIG and short writes, as on a full disk), a SIGKILLed worker, Redis
restarted empty, an unwritable log directory. Traffic goes to 127.0.0.1 only, bounded in count.
"""

from __future__ import annotations

import json
import signal
import threading
import time

import psutil
import pytest
import requests

from botify.errors import BotifyError
from botify.events import audit, iter_events, log_files
from tests.botify.service.serving import N_TRACKS, SERVE_CONFIG, KillableRedis, ServeProcess

CONFIG = SERVE_CONFIG


def post(session: requests.Session, url: str, user: int, track: int) -> requests.Response:
    return session.post(f"{url}/next/{user}", json={"track": track, "time": 0.5}, timeout=5)


def drive(url: str, users: range, per_user: int, keepalive=True) -> dict[int, list[int]]:
    """Each user (one thread) posts ``per_user`` plays; the tracks of the plays answered 200.

    Without ``keepalive`` every play is a new connection, which any worker may accept.
    """
    answered: dict[int, list[int]] = {user: [] for user in users}

    def client(user: int) -> None:
        session = requests.Session()
        for i in range(per_user):
            if not keepalive:
                session.close()
            try:
                response = post(session, url, user, (user * 7 + i) % N_TRACKS)
            except requests.RequestException:
                session = requests.Session()
                continue
            if response.status_code == 200:
                answered[user].append((user * 7 + i) % N_TRACKS)

    threads = [threading.Thread(target=client, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answered


def test_rotating_workers_lose_no_event(redis_server, redis_client, tracks_file, tmp_path):
    """Two workers rotating small files under one DATA_LOG_FILE: every 200 has its line, once."""
    config = {**CONFIG, "REDIS_URL": redis_server.url, "TRACKS_CATALOG": str(tracks_file),
              "DATA_LOG_MAX_BYTES": 20_000, "DATA_LOG_BACKUP_COUNT": 0}
    server = ServeProcess(tmp_path / "serve", config, workers=2).start()
    try:
        answered = drive(server.url, range(8), 250, keepalive=False)
    finally:
        assert server.stop() == 0
    events = list(iter_events([server.workdir / "log"]))
    assert len(events) == sum(map(len, answered.values())) == 8 * 250
    counts = audit(e["id"] for e in events)
    assert counts["duplicates"] == counts["gaps"] == 0 and counts["sources"] == 2
    assert len(log_files([server.workdir / "log"])) > 20  # each worker rotated its own files
    for user, tracks in answered.items():
        assert [e["track"] for e in events if e["user"] == user] == tracks
    assert "Traceback" not in server.output


def test_unwritable_log_holds_events_then_refuses_then_recovers(
    redis_server, redis_client, tracks_file, tmp_path
):
    config = {**CONFIG, "REDIS_URL": redis_server.url, "TRACKS_CATALOG": str(tracks_file),
              "DATA_LOG_PENDING_MAX": 50}
    server = ServeProcess(tmp_path / "serve", config, workers=1).start()
    session = requests.Session()
    statuses = []
    try:
        statuses += [post(session, server.url, 1, i).status_code for i in range(20)]
        (worker,) = (psutil.Process(pid) for pid in server.worker_pids())
        (log_file,) = log_files([server.workdir / "log"])
        # Room for about two more events, then writes fail (and one is cut short).
        worker.rlimit(psutil.RLIMIT_FSIZE, (log_file.stat().st_size + 500, psutil.RLIM_INFINITY))
        failing = [post(session, server.url, 2, i) for i in range(70)]
        statuses += [r.status_code for r in failing]
        refused = [r for r in failing if r.status_code == 503]
        assert 50 <= len(failing) - len(refused) <= 55, "held up to DATA_LOG_PENDING_MAX"
        assert refused and all("event log" in r.json()["message"] for r in refused)
        health = session.get(f"{server.url}/health", timeout=5)
        assert health.status_code == 503 and health.json()["event_log"]["pending"] >= 50
        assert "cannot be written" in health.json()["message"]
        assert log_file.read_bytes().endswith(b"\n"), "no torn line"

        worker.rlimit(psutil.RLIMIT_FSIZE, (psutil.RLIM_INFINITY, psutil.RLIM_INFINITY))
        time.sleep(0.6)  # the retry interval
        statuses += [post(session, server.url, 3, i).status_code for i in range(10)]
        health = session.get(f"{server.url}/health", timeout=5).json()
        assert health["status"] == "ok" and health["event_log"]["pending"] == 0
    finally:
        assert server.stop() == 0
    events = list(iter_events([server.workdir / "log"]))
    assert len(events) == statuses.count(200)
    assert audit(e["id"] for e in events)["gaps"] == 0
    assert [e["user"] for e in events] == sorted(e["user"] for e in events)  # kept in order
    assert server.output.count("cannot be written (") == 1  # one warning for the episode
    assert server.output.count("writable again") == 1
    assert "Traceback" not in server.output


def test_sigkilled_worker_loses_no_answered_event(redis_server, redis_client, tracks_file,
                                                 tmp_path):
    config = {**CONFIG, "REDIS_URL": redis_server.url, "TRACKS_CATALOG": str(tracks_file)}
    server = ServeProcess(tmp_path / "serve", config, workers=2).start()
    victim = sorted(server.worker_pids())[0]
    killed_at = []

    def kill() -> None:
        killed_at.append(time.time() * 1000)
        psutil.Process(victim).send_signal(signal.SIGKILL)

    killer = threading.Timer(0.5, kill)
    try:
        killer.start()
        answered = drive(server.url, range(6), 300, keepalive=False)
    finally:
        killer.join()
        assert server.stop() == 0
    events = list(iter_events([server.workdir / "log"]))
    sources = {e["id"].rpartition(":")[0] for e in events}
    assert any(f".{victim}." in source for source in sources), "the victim served"
    assert sum(e["timestamp"] > killed_at[0] for e in events) > 100, "the load outlived the kill"
    for user, tracks in answered.items():
        logged = [e["track"] for e in events if e["user"] == user]
        # Every answered play is logged; at most the one in flight when the worker died is
        # logged without its answer having arrived.
        assert len(tracks) <= len(logged) <= len(tracks) + 1
        assert all(track in logged for track in tracks)


def test_redis_restarted_empty_reloads_the_catalog(tracks_file, tmp_path):
    store = KillableRedis(tmp_path / "redis")
    url = store.url

    artifact = tmp_path / "top.jsonl"
    artifact.write_text("".join(json.dumps({"track": t, "score": 1.0 / (t + 1)}) + "\n"
                                for t in range(20)))
    store.start()
    config = {**CONFIG, "REDIS_URL": url, "TRACKS_CATALOG": str(tracks_file),
              "ARTIFACTS": {"top_tracks": str(artifact)}, "VERSION_CHECK_INTERVAL": 0.1}
    try:
        with ServeProcess(tmp_path / "serve", config, workers=2) as server:
            session = requests.Session()
            assert post(session, server.url, 1, 5).status_code == 200
            store.kill()
            store.start()  # empty: no persistence
            restarted = time.monotonic()
            time.sleep(0.2)  # past VERSION_CHECK_INTERVAL: the workers' cached catalog is stale
            seen = []
            while time.monotonic() - restarted < 15:
                response = post(session, server.url, 1, 5)
                seen.append(response.status_code)
                if response.status_code == 200:
                    break
                assert response.status_code == 503, response.text
                time.sleep(0.05)
            recovery = time.monotonic() - restarted
            assert seen[-1] == 200, f"not recovered in {recovery:.1f} s: {seen[-5:]}"
            assert seen[0] == 503, "the lost catalog was noticed"
            print(f"recovered {recovery:.2f} s after Redis restarted empty ({len(seen)} tries)")
            for user in range(10):  # both workers serve again
                assert post(session, server.url, user, 5).status_code == 200
            health = session.get(f"{server.url}/health", timeout=5).json()
            assert health["status"] == "ok", health
            assert health["catalog"]["tracks"] == N_TRACKS
            from botify.store.artifacts import artifact_info
            from botify.store.connection import connect

            assert artifact_info(connect(url), "top_tracks")["count"] == 20
        assert "reloaded" in server.output and "Traceback" not in server.output
    finally:
        store.kill()


def test_an_unwritable_log_directory_is_one_clear_message(redis_server, tmp_path):
    workdir = tmp_path / "serve"
    workdir.mkdir()
    (workdir / "blocked").write_text("a file where the log directory should be")
    config = {**CONFIG, "REDIS_URL": redis_server.url, "DATA_LOG_FILE": "blocked/data.jsonl"}
    server = ServeProcess(workdir, config, workers=2)
    with pytest.raises(BotifyError, match="exited at start"):
        server.start(timeout=30)
    assert server.process.returncode == 2
    assert "DATA_LOG_FILE blocked/data.jsonl: cannot write the event log" in server.output
    assert "Traceback" not in server.output and "Worker failed to boot" not in server.output
