"""The event log writer: one file series per process, whole lines, nothing dropped.

Each process writes its own series, ``<dir>/<stem>.<host>.<pid><suffix>`` for ``DATA_LOG_FILE`` =
``<dir>/<stem><suffix>`` (``log/data.web1.4242.jsonl``), and rotates it itself (``.1``, ``.2``, ...;
the highest number is the oldest). No other process renames or appends to it, so several workers and
replicas sharing one directory never race. Readers take the directory and merge every series by
timestamp (:func:`botify.events.read_events`).

Every event carries an ``id``, ``<source>:<seq>``: ``source`` names the writing process (host, pid
and start time, so a reused pid is a new source), ``seq`` counts its events from 1. A reader can
therefore tell a gap (a lost event) from a duplicate (:func:`botify.events.audit`).

The policy when a write fails (a full disk, an unwritable file):

- An event is written before its request is answered: one ``os.write`` of whole lines on a file
  that only this process appends to. A hard kill of the process (SIGKILL) loses nothing that was
  answered while the log was writable.
- When a write fails, the partial line is cut off again (the file is truncated back to its last
  whole line), the events are held in memory, in order, and retried at most every
  ``retry_seconds``; later events queue behind them. One warning starts the episode and one ends
  it, not one per event.
- While ``pending_max`` events are held, new requests are refused (``/next`` and ``/last`` answer
  503) instead of being accepted with no record; ``/health`` reports 503 with the counts. So a
  hard kill during an outage loses at most the held events: ``pending_max`` plus the requests in
  flight.
- On a clean stop the held events are retried once more; what still cannot be written is given
  up, counted and reported in one error line.
- A series reopened after a crash (the same host and pid, as in a restarted container) whose last
  line is partial has that tail moved to ``<file>.torn``, which readers skip.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from botify.errors import ConfigError
from botify.events import EVENT_ID, TORN_SUFFIX

log = logging.getLogger("botify.service")

# Lines per write when held events are retried: whole lines, a few hundred kB at most.
_BATCH = 2000


class EventLogUnavailable(Exception):
    """The log cannot take more events: it failed and holds as many as it may."""


@dataclass(frozen=True)
class EventLogState:
    """What one process's event log has done, for ``/health`` and the tests."""

    path: str
    written: int
    pending: int
    given_up: int
    error: str | None


def series_path(path: str | os.PathLike, host: str, pid: int) -> Path:
    """The file of the series that process ``pid`` on ``host`` writes for ``DATA_LOG_FILE``."""
    path = Path(path)
    suffix = path.suffix
    stem = path.name[: -len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}.{host}.{pid}{suffix}")


def check_settings(config: Mapping[str, Any]) -> None:
    """Check the event log's settings, and that its directory can be created and written, as the
    service starts (before any worker).

    Raises:
        ConfigError: naming the setting and the problem.
    """
    path = config["DATA_LOG_FILE"]
    if not isinstance(path, str | os.PathLike) or not Path(path).suffix:
        raise ConfigError(f"DATA_LOG_FILE must be a file name with a suffix (log/data.jsonl), got "
                          f"{path!r}: each process writes <stem>.<host>.<pid><suffix> beside it")
    for key, low in (("DATA_LOG_MAX_BYTES", 0), ("DATA_LOG_BACKUP_COUNT", 0),
                     ("DATA_LOG_PENDING_MAX", 1)):
        value = config.get(key, low)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{key} must be an integer of at least {low}, got {value!r}")
    directory = Path(path).parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".botify-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            f"DATA_LOG_FILE {path}: cannot write the event log in {directory} "
            f"({exc.strerror or exc}); set DATA_LOG_FILE to a writable place"
        ) from None


def _host() -> str:
    # Dots separate the file name's parts: the host name's own dots become dashes.
    return (socket.gethostname() or "host").replace(".", "-").replace(os.sep, "_")


class EventLog:
    """Appends events as JSON lines to this process's own rotating file series.

    Args:
        path: ``DATA_LOG_FILE``; this process writes :func:`series_path` of it (the directory is
            created).
        max_bytes: rotate before a file would pass this size (0: never).
        backup_count: rotated files to keep (0: keep them all).
        pending_max: events held in memory while the log cannot be written; beyond it requests
            are refused.
        retry_seconds: how often a failed log is retried.
        metrics: told what is written, held and given up, and how many events are held
            (:class:`botify.service.metrics.EventLogMetrics`); None: nobody.

    Raises:
        OSError: the directory cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        max_bytes: int = 0,
        backup_count: int = 0,
        pending_max: int = 10_000,
        retry_seconds: float = 0.5,
        metrics: Any = None,
    ) -> None:
        host, pid = _host(), os.getpid()
        self.path = series_path(path, host, pid)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self.backup_count = int(backup_count)
        self.pending_max = int(pending_max)
        self.retry_seconds = float(retry_seconds)
        self.source = f"{host}.{pid}.{time.time_ns() // 1000:x}"
        self._seq = 0
        self._pending: deque[bytes] = deque()
        self._fd: int | None = None
        self._size = 0
        # The size to cut the file back to when it is reopened after a write failed to be undone.
        self._repair_size: int | None = None
        self._written = 0
        self._given_up = 0
        self._error: str | None = None
        self._failed_at = 0.0
        self._next_retry = 0.0
        self._closed = False
        self._lock = threading.Lock()
        self._metrics = metrics

    # ----------------------------------------------------------------------------------------------
    # The request path

    def check_accepting(self) -> None:
        """Raise :class:`EventLogUnavailable` when the log holds all the events it may.

        Called before a request does any work, so a refused request changes nothing.
        """
        if len(self._pending) >= self.pending_max:
            with self._lock:
                self._retry_due()
            if len(self._pending) >= self.pending_max:
                raise EventLogUnavailable(self._unavailable_message())

    def write(self, event: dict[str, Any]) -> None:
        """Give the event its id and write it (or hold it while the log cannot be written)."""
        with self._lock:
            if self._closed:
                raise EventLogUnavailable("the event log is closed")
            self._seq += 1
            line = orjson.dumps({**event, EVENT_ID: f"{self.source}:{self._seq}"}) + b"\n"
            if self._pending:
                self._pending.append(line)
                self._held()
                self._retry_due()
                return
            try:
                self._append(line)
            except OSError as exc:
                self._pending.append(line)
                self._held()
                self._start_episode(exc)

    def state(self) -> EventLogState:
        """The counts, and the error of the current failure episode (None when writing)."""
        with self._lock:
            self._retry_due()
            return EventLogState(
                str(self.path), self._written, len(self._pending), self._given_up, self._error
            )

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._closed

    def close(self) -> None:
        """Write what is held (one last try), then close the file. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pending:
                self._flush_pending()
            if self._pending:
                self._given_up += len(self._pending)
                if self._metrics is not None:
                    self._metrics.given_up(len(self._pending))
                    self._metrics.pending(0)
                log.error(
                    "event log %s: gave up %d event(s) that could not be written (%s)",
                    self.path, len(self._pending), self._error,
                )
                self._pending.clear()
            self._close_fd()

    # ----------------------------------------------------------------------------------------------
    # Failures

    def _unavailable_message(self) -> str:
        return (
            f"the event log {self.path} cannot be written ({self._error}); "
            f"{len(self._pending)} events held, retry later"
        )

    def _start_episode(self, exc: OSError) -> None:
        self._error = f"{type(exc).__name__}: {exc}"
        self._failed_at = time.monotonic()
        self._next_retry = self._failed_at + self.retry_seconds
        log.warning(
            "event log %s cannot be written (%s): holding events in memory (at most %d) and "
            "retrying every %.1f s",
            self.path, self._error, self.pending_max, self.retry_seconds,
        )

    def _held(self) -> None:
        if self._metrics is not None:
            self._metrics.held(1)
            self._metrics.pending(len(self._pending))

    def _retry_due(self) -> None:
        if self._pending and not self._closed and time.monotonic() >= self._next_retry:
            self._flush_pending()

    def _flush_pending(self) -> None:
        held = len(self._pending)
        try:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(_BATCH, len(self._pending)))]
                try:
                    self._append(b"".join(batch))
                except OSError:
                    self._pending.extendleft(reversed(batch))
                    raise
        except OSError as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            self._next_retry = time.monotonic() + self.retry_seconds
            return
        finally:
            if self._metrics is not None:
                self._metrics.pending(len(self._pending))
        log.warning(
            "event log %s writable again after %.1f s: wrote the %d event(s) held",
            self.path, time.monotonic() - self._failed_at, held,
        )
        self._error = None

    # ----------------------------------------------------------------------------------------------
    # The file

    def _append(self, data: bytes) -> None:
        """Write whole lines, or nothing: a short or failed write is cut off again."""
        if self._fd is None:
            self._open()
        elif self.max_bytes and self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)")
        except OSError:
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:  # the failed write may have left lines behind: cut them at reopen
                self._repair_size = self._size
                self._close_fd()
            raise
        self._size += written
        lines = data.count(b"\n")
        self._written += lines
        if self._metrics is not None:
            self._metrics.written(lines)

    def _open(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if self._repair_size is not None and size > self._repair_size:
                # What the failed write left is held in memory and will be written again.
                size = self._set_aside(fd, size, self._repair_size, "an unfinished write")
            elif size and os.pread(fd, 1, size - 1) != b"\n":
                size = self._set_aside(fd, size, self._last_line_start(size), "a partial line")
            self._repair_size = None
        except OSError:
            os.close(fd)
            raise
        self._fd, self._size = fd, size

    def _last_line_start(self, size: int) -> int:
        with open(self.path, "rb") as handle:
            start = max(0, size - 1_048_576)
            handle.seek(start)
            return start + handle.read().rfind(b"\n") + 1

    def _set_aside(self, fd: int, size: int, keep: int, what: str) -> int:
        """Move the file's bytes from ``keep`` on to ``<file>.torn``; the new size."""
        with open(self.path, "rb") as handle:
            handle.seek(keep)
            tail = handle.read()
        torn = self.path.with_name(self.path.name + TORN_SUFFIX)
        with open(torn, "ab") as handle:
            handle.write(tail if tail.endswith(b"\n") else tail + b"\n")
        os.ftruncate(fd, keep)
        log.warning("event log %s ended in %s (%d bytes): set aside in %s",
                    self.path, what, size - keep, torn)
        return keep

    def _rotate(self) -> None:
        self._close_fd()
        rotated = sorted(
            (int(p.name.rpartition(".")[2]), p)
            for p in self.path.parent.glob(self.path.name + ".*")
            if p.name.rpartition(".")[2].isdigit()
        )
        for number, file in reversed(rotated):
            if self.backup_count and number >= self.backup_count:
                file.unlink()
            else:
                file.rename(file.with_name(f"{self.path.name}.{number + 1}"))
        self.path.rename(self.path.with_name(self.path.name + ".1"))
        self._open()

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass
