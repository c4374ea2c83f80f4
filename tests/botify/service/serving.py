"""Run ``botify serve`` as a real subprocess (gunicorn, gevent workers) for the tests."""

from __future__ import annotations

import sys
from pathlib import Path

from botify.service.process import ServiceProcess
from botify.store.catalog import synthetic_records, write_records

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

    def __init__(self, workdir: Path, config: dict, env: dict | None = None, workers: int = 2):
        workdir = Path(workdir)
        super().__init__(
            workdir, config, workers=workers, env=env,
            log_path=workdir.parent / f"{workdir.name}.serve.log",
        )
