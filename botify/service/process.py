"""``botify serve`` (and other botify commands) as a child process: start it, reload its
workers, stop it.

Used by ``botify experiment`` (and the tests) to run the real service, gunicorn and all, beside the
code that drives it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import requests

from botify.errors import BotifyError
from botify.files import atomic_write_text
from botify.store.redis_server import free_port


class ChildProcess:
    """A botify command run as a child on a free loopback port, in its own session (so a Ctrl-C
    reaches only the owner, which stops it): start it, wait until it answers, stop it.

    Subclasses set :attr:`name`, :attr:`ready_path`, and give :meth:`_args`.

    Args:
        log_path: where the child's own output goes.
    """

    name = "botify"
    ready_path = "/"  # answers 200 once the child serves

    def __init__(self, log_path: str | os.PathLike) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.process: subprocess.Popen | None = None

    def _args(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _spawn(self, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as output:  # the child keeps its own copy
            self.process = subprocess.Popen(
                self._args(), cwd=cwd, env=env, stdout=output, stderr=output,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise BotifyError(f"{self.name} exited at start; see {self._log_hint()}")
            try:
                if requests.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise BotifyError(
            f"{self.name} did not answer within {timeout:.0f} s; see {self._log_hint()}"
        )

    def _log_hint(self) -> str:
        return f"{self.log_path}:\n{self.output[-2000:]}"

    @property
    def output(self) -> str:
        """What the child has printed so far (its log of starts, stops and errors)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (graceful), wait, kill it and its children if it hangs.

        Returns:
            The exit status (0 if it was not running).
        """
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
            self.process.kill()
            self.process.wait()
        status = self.process.returncode
        self.process = None
        return status

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


class ServiceProcess(ChildProcess):
    """``botify serve`` on a free loopback port, configured by ``workdir/config.json``.

    Args:
        workdir: the service's working directory (its config file lives there; relative paths in
            the config, such as ``DATA_LOG_FILE``, are relative to it).
        config: the config.json content.
        redis_url: the Redis to use (else ``botify serve`` starts its own).
        workers: gunicorn worker processes.
        env: extra environment variables of the service.
        log_path: where the service's own output goes (default ``workdir/serve.log``).
        options: more ``botify serve`` options (``--redis-cluster 3``).
    """

    name = "botify serve"

    def __init__(
        self,
        workdir: str | os.PathLike,
        config: Mapping[str, Any],
        redis_url: str | None = None,
        workers: int = 2,
        env: Mapping[str, str] | None = None,
        log_path: str | os.PathLike | None = None,
        options: Sequence[str] = (),
    ) -> None:
        self.workdir = Path(workdir)
        self.options = list(options)
        super().__init__(log_path or self.workdir / "serve.log")
        self.workers = workers
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
        self.env.pop("REDIS_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.env.update(env or {})
        self.write_config(config)

    def write_config(self, config: Mapping[str, Any]) -> None:
        """Write ``config.json`` (atomically); workers read it when they start."""
        atomic_write_text(self.workdir / "config.json", json.dumps(config, indent=2))

    def _args(self) -> list[str]:
        return [sys.executable, "-m", "botify.service.cli", "--port", str(self.port),
                "--workers", str(self.workers), *self.options]

    def start(self, timeout: float = 60) -> ServiceProcess:
        """Start the service and wait until it answers ``GET /``.

        Raises:
            BotifyError: it exited or did not answer in time (with its output).
        """
        self._spawn(cwd=self.workdir, env=self.env)
        self._wait_ready(timeout)
        return self

    def worker_pids(self) -> set[int]:
        """The pids of the gunicorn workers (children of the service process)."""
        if self.process is None:
            return set()
        try:
            return {child.pid for child in psutil.Process(self.process.pid).children()}
        except psutil.NoSuchProcess:
            return set()

    def reload(self, config: Mapping[str, Any], timeout: float = 60) -> None:
        """Switch to ``config`` without stopping the service.

        Writes the new config and sends SIGHUP: gunicorn starts new workers, which read it, and
        stops the old ones gracefully (each flushes its event log). Returns when only new workers
        are left and the service answers.

        Raises:
            BotifyError: the old workers did not go away in time.
        """
        assert self.process is not None, "start() first"
        old = self.worker_pids()
        self.write_config(config)
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.worker_pids()
            if not current & old and len(current) >= self.workers:
                self._wait_ready(max(1.0, deadline - time.monotonic()))
                return
            time.sleep(0.1)
        raise BotifyError(f"botify serve did not reload its workers within {timeout:.0f} s")
