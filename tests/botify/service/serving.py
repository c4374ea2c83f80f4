"""Run ``botify serve`` as a real subprocess (gunicorn, gevent workers) for the tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from botify.service.process import ServiceProcess
from botify.store.catalog import synthetic_records, write_records
from botify.store.redis_server import free_port, redis_server_binary

# The service's config.json in the tests that run it for real: two treatments and an A/A pair.
SERVE_CONFIG = {
    "DATA_LOG_FILE": "log/data.jsonl",
    "EXPERIMENTS": {"STICKY_ARTIST": ["random", "sticky_artist"], "AA": ["random", "random"]},
    "ACTIVE_EXPERIMENT": "STICKY_ARTIST",
}
# Tracks of the catalog those tests load (200 tracks by 20 artists).
N_TRACKS = 200


def write_tracks(tmp_path: Path) -> Path:
    """The catalog file of :data:`N_TRACKS` synthetic tracks."""
    return write_records(tmp_path / "tracks.jsonl", synthetic_records(N_TRACKS, 20, rng=3))

# `botify` through its real entry point; only the command modules this package tests are loaded, so
# the test does not depend on other packages' commands.
RUNNER = (
    "import sys, botify.cli as cli; "
    "cli.COMMAND_MODULES = ('botify.service.cli', 'botify.store.cli'); "
    "sys.exit(cli.main(sys.argv[1:]))"
)


def botify_command(*args: str) -> list[str]:
    """The argv that runs ``botify ARGS...``."""
    return [sys.executable, "-c", RUNNER, *args]


class ServeProcess(ServiceProcess):
    """``botify serve`` on a free port, in ``workdir``, with ``config`` as its config.json.

    Its output goes next to ``workdir`` (``<workdir>.serve.log``), so the work tree holds only
    what the service itself writes.

    Args:
        workdir: the working directory (the config file and the event log go there).
        config: the config.json content (with ``REDIS_URL``, or the service starts its own Redis).
        env: extra environment variables.
        workers: gunicorn workers.
    """

    def __init__(self, workdir: Path, config: dict, env: dict | None = None, workers: int = 2,
                 options: tuple[str, ...] = ()):
        workdir = Path(workdir)
        super().__init__(
            workdir, config, workers=workers, env=env,
            log_path=workdir.parent / f"{workdir.name}.serve.log", options=options,
        )


class KillableRedis:
    """A plain redis-server on a fixed loopback port that the test can kill and start again."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> KillableRedis:
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir),
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:
            deadline = time.monotonic() + 10
            while True:
                assert self.process.poll() is None, "redis-server exited at start"
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not answer in 10 s"
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the outage, with no goodbye to the clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
