"""``botify dashboard`` as a child process beside the service: start it, stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from botify.errors import BotifyError
from botify.store.redis_server import free_port


class DashboardProcess:
    """``botify dashboard`` on a free loopback port, following ``logs``.

    Args:
        logs: the log directory (``OUT/logs``: every day's subdirectory; the page shows the
            experiment of the newest events, so the current day's).
        log_path: where its own output goes.
        config: the config whose ``EXPERIMENTS`` give the SRM check's configured split.
        experiment: only this experiment (default: every one, the newest shown).
    """

    def __init__(
        self,
        logs: str | os.PathLike,
        log_path: str | os.PathLike,
        config: str | os.PathLike | None = None,
        experiment: str | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.args = [sys.executable, "-m", "botify.cli", "dashboard", "--logs", str(logs),
                     "--host", "127.0.0.1", "--port", str(self.port)]
        if config is not None:
            self.args += ["--config", str(config)]
        if experiment is not None:
            self.args += ["--experiment", experiment]
        self.log_path = Path(log_path)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> DashboardProcess:
        """Start it and wait until it answers.

        Raises:
            BotifyError: it exited or did not answer in time.
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as output:
            # Its own session, so a Ctrl-C reaches only the owner, which stops it.
            self.process = subprocess.Popen(
                self.args, stdout=output, stderr=output, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BotifyError(f"botify dashboard exited at start; see {self.log_path}")
            try:
                if requests.get(self.url + "health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise BotifyError(f"botify dashboard did not answer within {timeout:.0f} s; "
                          f"see {self.log_path}")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, wait, kill if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
