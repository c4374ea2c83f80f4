"""Redis reads and writes queued from several places and sent in one round trip."""

from __future__ import annotations

from typing import Any

import redis


class Batch:
    """A non-transactional pipeline whose commands are addressed by the index :meth:`add` returns.

    Recommenders queue their session reads and artifact lookups into one batch, so that a request
    costs one round trip instead of one per key. A failing command (say, a key of the wrong type)
    yields its exception as the result instead of raising: callers treat it as missing data.
    Connection errors still raise, so the service can answer 503.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._pipe = client.pipeline(transaction=False)
        self._count = 0
        self._results: list[Any] | None = None

    def add(self, command: str, *args: Any, **kwargs: Any) -> int:
        """Queue ``command`` (a redis-py method name) and return the index of its future result."""
        getattr(self._pipe, command)(*args, **kwargs)
        self._count += 1
        return self._count - 1

    def add_script(self, script: str, keys: list[Any], args: list[Any]) -> int:
        """Queue the Lua ``script`` on ``keys`` (all in one cluster slot) and ``args``; return its
        result's index.

        It is sent whole (``EVAL``; Redis keeps it compiled, keyed by its hash): a registered
        script's ``EVALSHA`` would cost a ``SCRIPT EXISTS`` round trip on every batch, and cluster
        pipelines refuse it.
        """
        self._pipe.execute_command("EVAL", script, len(keys), *keys, *args)
        self._count += 1
        return self._count - 1

    def __len__(self) -> int:
        return self._count

    def execute(self) -> list[Any]:
        """Send the queued commands (if any) and return their results in order."""
        self._results = self._pipe.execute(raise_on_error=False) if self._count else []
        return self._results

    def result(self, index: int) -> Any:
        """The result of the command queued at ``index``; ``None`` when it failed."""
        if self._results is None:
            raise RuntimeError("Batch.result() before execute()")
        value = self._results[index]
        return None if isinstance(value, Exception) else value
