"""Bringing the catalog back when Redis loses it (a restart without persistence, a flush).

The service's processes notice on the request path: the version they served is no longer current
and no version is. With ``TRACKS_CATALOG`` configured, the first process to notice reloads it and
the ``ARTIFACTS`` in the background (the loads take Redis locks, so several processes and replicas
load once); meanwhile ``/next``, ``/last`` and ``/health`` answer 503 with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import redis

from botify.store.artifacts import load_configured_artifacts
from botify.store.catalog import RedisCatalog, load_catalog

log = logging.getLogger("botify.service")

# After a failed reload (Redis down again, the file unreadable), wait this long before the next.
RETRY_SECONDS = 5.0


class CatalogUnavailable(Exception):
    """No catalog is served because Redis lost it; the message says what is being done."""


class CatalogReload:
    """Reloads the configured catalog and artifacts when Redis has lost them.

    Args:
        client: the Redis client.
        config: the service configuration (``TRACKS_CATALOG``, ``ARTIFACTS``).
    """

    def __init__(self, client: redis.Redis, config: Mapping[str, Any]) -> None:
        self.client = client
        self.catalog_file = config.get("TRACKS_CATALOG")
        self.artifacts = dict(config.get("ARTIFACTS") or {})
        self._thread: threading.Thread | None = None
        self._next_try = 0.0
        self._error: str | None = None
        self._lock = threading.Lock()

    def check(self, catalog: RedisCatalog) -> None:
        """Called when ``catalog`` is empty: start a reload if one is due, say why.

        Returns quietly when no catalog was ever served and none is configured (the caller's
        "the catalog is empty" answer applies).

        Raises:
            CatalogUnavailable: the catalog is gone or being reloaded.
        """
        lost = catalog.lost_version
        if not self.catalog_file:
            if lost is None:
                return
            raise CatalogUnavailable(
                f"the catalog version {lost} this service served is gone from Redis (did Redis "
                "restart empty?); load one with `botify load catalog FILE`, or configure "
                "TRACKS_CATALOG to have it reloaded"
            )
        self._start()
        state = f"the last attempt failed: {self._error}" if self._error else "retry shortly"
        raise CatalogUnavailable(
            "no catalog in Redis (did it restart empty?): reloading TRACKS_CATALOG "
            f"{self.catalog_file}; {state}"
        )

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or time.monotonic() < self._next_try:
                return
            self._thread = threading.Thread(target=self._run, name="catalog-reload", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            result = load_catalog(self.client, self.catalog_file)
            loaded = load_configured_artifacts(self.client, self.artifacts)
        except Exception as exc:  # whatever failed, one line, and a pause before the next try
            self._error = f"{type(exc).__name__}: {exc}"
            self._next_try = time.monotonic() + RETRY_SECONDS
            log.warning("reloading the catalog %s failed: %s", self.catalog_file, self._error)
        else:
            self._error = None
            log.warning(
                "Redis had lost the catalog: reloaded %s (%d tracks, version %d), %d artifact(s)",
                self.catalog_file, result.tracks, result.version, len(loaded),
            )
        finally:
            with self._lock:
                self._thread = None
