"""The event log writer: JSON lines to rotating files, written off the request path.

A request only puts its event on a queue (a few microseconds); a
:class:`logging.handlers.QueueListener` formats it and appends it to ``DATA_LOG_FILE`` through a
:class:`RotatingFileHandler`. :meth:`EventLog.close` drains the queue, so a clean shutdown
(gunicorn's SIGTERM, see ``gunicorn_conf.worker_exit``) loses no event.

Several worker processes append to the same file: every line is one ``write`` on a file opened with
``O_APPEND``, so lines never interleave; each process rotates when it sees the file over the size
limit, so rotated files hold about ``DATA_LOG_MAX_BYTES`` each and no event is lost. The order of
lines across workers is the order of writes, not of timestamps; readers sort by timestamp.
"""

from __future__ import annotations

import logging
import queue
import threading
from logging.handlers import QueueListener, RotatingFileHandler
from pathlib import Path
from typing import Any

import orjson

_LEVEL = logging.INFO


class _EventFormatter(logging.Formatter):
    """Formats a record whose ``msg`` is the event dict as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(record.msg).decode()


class _EventListener(QueueListener):
    """Wraps each queued event dict in a LogRecord here, in the listener, not in the request."""

    def dequeue(self, block: bool) -> Any:
        event = self.queue.get(block)
        if event is self._sentinel:
            return event
        return logging.LogRecord("botify.events", _LEVEL, "", 0, event, None, None)


class EventLog:
    """Appends events to rotating JSON-lines files from a background listener.

    Args:
        path: the log file (``DATA_LOG_FILE``); its directory is created.
        max_bytes: rotate when a file reaches this size (0: never).
        backup_count: how many rotated files to keep.
    """

    def __init__(self, path: str | Path, max_bytes: int = 0, backup_count: int = 0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handler = RotatingFileHandler(
            self.path, maxBytes=int(max_bytes), backupCount=int(backup_count), encoding="utf-8"
        )
        self._handler.setFormatter(_EventFormatter())
        self._queue: queue.Queue = queue.Queue()
        self._listener: QueueListener | None = _EventListener(self._queue, self._handler)
        self._lock = threading.Lock()
        self._listener.start()

    def write(self, event: dict[str, Any]) -> None:
        """Queue one event (returns at once; the listener writes it)."""
        self._queue.put_nowait(event)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._listener is None

    def close(self) -> None:
        """Write every queued event, then close the file. Safe to call more than once."""
        with self._lock:
            if self._listener is None:
                return
            self._listener.stop()
            self._listener = None
            self._handler.close()
