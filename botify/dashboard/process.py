"""``botify dashboard`` as a child process beside the service: start it, stop it."""

from __future__ import annotations

import os
import sys

from botify.service.process import ChildProcess


class DashboardProcess(ChildProcess):
    """``botify dashboard`` on a free loopback port, following ``logs``.

    Args:
        logs: the log directory (``OUT/logs``: every day's subdirectory; the page shows the
            experiment of the newest events, so the current day's).
        log_path: where its own output goes.
        config: the config whose ``EXPERIMENTS`` give the SRM check's configured split.
        experiment: only this experiment (default: every one, the newest shown).
    """

    name = "botify dashboard"
    ready_path = "/health"

    def __init__(
        self,
        logs: str | os.PathLike,
        log_path: str | os.PathLike,
        config: str | os.PathLike | None = None,
        experiment: str | None = None,
    ) -> None:
        super().__init__(log_path)
        self.logs, self.config, self.experiment = logs, config, experiment

    def _args(self) -> list[str]:
        args = [sys.executable, "-m", "botify.cli", "dashboard", "--logs", str(self.logs),
                "--host", "127.0.0.1", "--port", str(self.port)]
        if self.config is not None:
            args += ["--config", str(self.config)]
        if self.experiment is not None:
            args += ["--experiment", self.experiment]
        return args

    def start(self, timeout: float = 30) -> DashboardProcess:
        """Start it and wait until it answers.

        Raises:
            BotifyError: it exited or did not answer in time.
        """
        self._spawn()
        self._wait_ready(timeout)
        return self

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, wait, kill if it hangs."""
        return super().stop(timeout)
