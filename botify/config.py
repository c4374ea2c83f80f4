"""Configuration: defaults, then ``config.json``, then ``BOTIFY_*`` environment variables.

The same layering serves the Flask app (``create_app``) and every CLI command, so a key set once
(in the file or the environment) means the same thing everywhere.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config, Flask

from botify.errors import ConfigError

DEFAULTS: dict[str, Any] = {
    # Redis: REDIS_URL (or BOTIFY_REDIS_URL) when set, otherwise `botify serve` starts its own.
    "REDIS_URL": None,
    # The tracks catalog (JSONL: track, artist, title, extra fields) loaded at startup, if set.
    "TRACKS_CATALOG": None,
    # Recommendation artifacts loaded at startup: NAME -> JSONL file (missing files are skipped).
    "ARTIFACTS": {},
    # The event log: JSON lines; each process writes and rotates its own series of files,
    # <dir>/<stem>.<host>.<pid>.jsonl for DATA_LOG_FILE <dir>/<stem>.jsonl (readers take <dir>).
    "DATA_LOG_FILE": "log/data.jsonl",
    # Rotate a process's file at this size; keep this many rotated files per process (0: all).
    "DATA_LOG_MAX_BYTES": 100 * 1024 * 1024,
    "DATA_LOG_BACKUP_COUNT": 50,
    # Events a process holds in memory while its log cannot be written (a full disk); beyond
    # that, /next and /last answer 503. A hard kill during such an outage loses at most these.
    "DATA_LOG_PENDING_MAX": 10_000,
    # Seconds between a worker's checks of which catalog version and which version of each artifact
    # are current (0: every request); a reload is served at most this much later. While Redis is
    # unreachable every request checks the catalog, and fails at once with a 503.
    "VERSION_CHECK_INTERVAL": 0.25,
    # Seconds a user's session state (heard, recommended, likes) lives in Redis after the last
    # request.
    "SESSION_TTL": 3600,
    # Recommender instances beyond the built-in ones: NAME -> {"type": TYPE, parameters...}. Every
    # built-in type is already configured under its own name with its declared defaults (see
    # botify.recommenders.registry.configured); an entry here adds an instance or overrides one.
    "RECOMMENDERS": {},
    # Active experiments: NAME -> recommender names, one per treatment (treatment 0 is the
    # control C).
    "EXPERIMENTS": {"STICKY_ARTIST": ["random", "sticky_artist"]},
    # The experiment whose assignment picks the recommender that serves a request.
    "ACTIVE_EXPERIMENT": "STICKY_ARTIST",
}

# The keys a config file may set: the service's own, and Flask's (MAX_CONTENT_LENGTH, ...).
KNOWN_KEYS = frozenset(DEFAULTS) | frozenset(Flask.default_config)
PREFIX = "BOTIFY_"
# The BOTIFY_ environment variables that are not configuration keys: the config file's path, and
# how ``botify serve`` runs its processes (read by botify.service.gunicorn_conf and
# botify.service.metrics).
CONFIG_VARIABLE = "BOTIFY_CONFIG"
WORKERS_VARIABLE = "BOTIFY_WORKERS"
BIND_VARIABLE = "BOTIFY_BIND"
WORKER_CLASS_VARIABLE = "BOTIFY_WORKER_CLASS"
WORKER_CONNECTIONS_VARIABLE = "BOTIFY_WORKER_CONNECTIONS"
METRICS_VARIABLE = "BOTIFY_METRICS"
PROCESS_VARIABLES = frozenset({
    CONFIG_VARIABLE, WORKERS_VARIABLE, BIND_VARIABLE, WORKER_CLASS_VARIABLE,
    WORKER_CONNECTIONS_VARIABLE, METRICS_VARIABLE,
})


# Where the workers' metrics files are (prometheus_client's own variable, set up by the master).
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def metrics_enabled() -> bool:
    """Whether the service's metrics are on: ``BOTIFY_METRICS`` is not 0, false, no or off."""
    return os.environ.get(METRICS_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")


def config_path() -> Path | None:
    """The config file in effect: ``$BOTIFY_CONFIG``, else ``./config.json`` when it exists."""
    explicit = os.environ.get(CONFIG_VARIABLE)
    if explicit:
        return Path(explicit)
    local = Path("config.json")
    return local if local.exists() else None


def load_config(
    path: str | os.PathLike | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Build the configuration by layers.

    Args:
        path: a JSON config file; defaults to :func:`config_path`.
        overrides: values applied last (tests, command-line flags).

    Returns:
        A ``flask.Config`` (a dict) with every key of :data:`DEFAULTS`.

    Raises:
        ConfigError: the file is missing, not valid JSON, or sets a key nothing reads (a typo,
            or a key that was renamed); or a ``BOTIFY_`` environment variable does.
    """
    config = Config(os.getcwd())
    config.from_mapping(DEFAULTS)
    file = Path(path) if path is not None else config_path()
    if file is not None:
        try:
            config.from_file(str(file.resolve()), load=_load_json)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {file}") from exc
        except ValueError as exc:
            raise ConfigError(f"config file {file} is not valid JSON: {exc}") from exc
    _check_environment()
    config.from_prefixed_env(PREFIX.rstrip("_"))
    if os.environ.get("REDIS_URL") and not os.environ.get("BOTIFY_REDIS_URL"):
        config["REDIS_URL"] = os.environ["REDIS_URL"]
    if overrides:
        config.update(overrides)
    return config


def _load_json(handle) -> dict[str, Any]:
    data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError("the top level must be an object")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"config file {handle.name}: unknown key {unknown[0]}"
                          f"{_closest(unknown[0], KNOWN_KEYS)}; the keys are "
                          f"{', '.join(DEFAULTS)} and Flask's own")
    return data


def _check_environment() -> None:
    """Refuse a ``BOTIFY_`` variable that sets no key (``BOTIFY_A__B`` sets ``B`` inside ``A``)."""
    for name in sorted(os.environ):
        key = name[len(PREFIX):].split("__")[0]
        if name.startswith(PREFIX) and name not in PROCESS_VARIABLES and key not in KNOWN_KEYS:
            known = {PREFIX + k for k in KNOWN_KEYS} | PROCESS_VARIABLES
            raise ConfigError(f"environment variable {name}: {key} is not a configuration key"
                              f"{_closest(name, known)}")


def _closest(name: str, known: frozenset[str] | set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
