"""Run ``botify serve`` as a real subprocess (gunicorn, gevent workers) for the tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from botify.store.redis_server import free_port

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


class ServeProcess:
    """``botify serve`` on a free port, in ``workdir``, with ``config`` as its config.json.

    Args:
        workdir: the working directory (the config file and the event log go there).
        config: the config.json content.
        env: extra environment variables.
        workers: gunicorn workers.
    """

    def __init__(self, workdir: Path, config: dict, env: dict | None = None, workers: int = 2):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "config.json").write_text(json.dumps(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            key: value for key, value in os.environ.items()
            if not key.startswith("BOTIFY_") and key != "REDIS_URL"
        }
        self.env.update(env or {})
        self.workers = workers
        self.process: subprocess.Popen | None = None
        self.output = ""

    def start(self, timeout: float = 30) -> ServeProcess:
        args = botify_command("serve", "--port", str(self.port), "--workers", str(self.workers))
        self.process = subprocess.Popen(
            args, cwd=self.workdir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"botify serve exited:\n{self.process.stdout.read()}")
            try:
                if requests.get(self.url + "/", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"botify serve did not answer in {timeout} s:\n{self.output}")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, wait, and keep the output. Returns the exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.output, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output, _ = self.process.communicate()
        status = self.process.returncode
        self.process = None
        return status

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
