"""Redis reads and writes queued from several places and sent in one round trip."""

from __future__ import annotations

import os
import weakref
from typing import Any

import redis
from redis.connection import AbstractConnection

from botify.store.connection import is_cluster


class Batch:
    """A non-transactional pipeline whose commands are addressed by the index :meth:`add` returns.

    Recommenders queue their session reads and artifact lookups into one batch, so that a request
    costs one round trip instead of one per key. A failing command (say, a key of the wrong type)
    yields its exception as the result instead of raising: callers treat it as missing data.
    Connection errors still raise, so the service can answer 503.

    On a single Redis the batch is sent over a :class:`Lane` (see there); on a Redis Cluster by
    redis-py's cluster pipeline, which routes each command to its node.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._pipe = client.pipeline(transaction=False)
        self._lane = None if is_cluster(client) else lane(client)
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
        if not self._count:
            self._results = []
        elif self._lane is None:
            self._results = self._pipe.execute(raise_on_error=False)
        else:
            self._results = self._lane.execute(self._pipe)
        return self._results

    def result(self, index: int) -> Any:
        """The result of the command queued at ``index``; ``None`` when it failed."""
        if self._results is None:
            raise RuntimeError("Batch.result() before execute()")
        value = self._results[index]
        return None if isinstance(value, Exception) else value


class Lane:
    """The connections a process's batches to one Redis go over.

    A connection is taken by one batch at a time and put back only after every reply of that batch
    was read, so a connection at rest never holds unread data: the pool's check for leftover
    replies on each checkout (a ``poll`` call) and its bookkeeping are not needed. A batch whose
    connection fails (a Redis restart closed it, a timeout) is sent once more on a new connection,
    as the client's own retry does; any other interruption drops the connection.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._pool = client.connection_pool
        self._idle: list[AbstractConnection] = []
        self._pid = os.getpid()

    def _take(self) -> AbstractConnection:
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours to use
            self._idle, self._pid = [], os.getpid()
        try:
            return self._idle.pop()  # one step, so that two threads never take the same one
        except IndexError:
            return self._pool.connection_class(**self._pool.connection_kwargs)

    def execute(self, pipe: redis.client.Pipeline) -> list[Any]:
        """Send ``pipe``'s queued commands and read their replies (failed commands' errors in
        place of their results).

        Raises:
            redis.ConnectionError, redis.TimeoutError: Redis failed twice in a row.
        """
        commands = pipe.command_stack
        connection = self._take()
        try:
            try:
                results = _round_trip(pipe, connection, commands)
            except (redis.ConnectionError, redis.TimeoutError):
                connection.disconnect()
                results = _round_trip(pipe, connection, commands)
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pipe.reset()
        self._idle.append(connection)
        return results


def _round_trip(pipe: redis.client.Pipeline, connection: AbstractConnection,
                commands: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
    connection.send_packed_command([_pack(connection, [args for args, _ in commands])])
    results: list[Any] = []
    for args, options in commands:
        try:
            results.append(pipe.parse_response(connection, args[0], **options))
        except redis.ResponseError as exc:
            results.append(exc)
    return results


def _pack(connection: AbstractConnection, commands: list[tuple[Any, ...]]) -> bytes:
    """``commands`` in Redis's protocol, as the connection's serializer writes them (a command name
    of several words split, bytes as they are, str in the encoding, int in decimal), at half its
    cost."""
    encoder = connection.encoder
    parts: list[bytes] = []
    for args in commands:
        name = args[0]
        if (" " if type(name) is str else b" ") in name:  # "CLIENT ID" is two words on the wire
            args = (*name.split(), *args[1:])
        parts.append(b"*%d\r\n" % len(args))
        for arg in args:
            kind = type(arg)
            if kind is bytes:
                value = arg
            elif kind is str:
                value = arg.encode(encoder.encoding, encoder.encoding_errors)
            elif kind is int:
                value = b"%d" % arg
            else:  # floats, memoryviews, and what the encoder refuses (it says why)
                value = encoder.encode(arg)
            parts.append(b"$%d\r\n%b\r\n" % (len(value), value))
    return b"".join(parts)


_lanes: weakref.WeakKeyDictionary[redis.Redis, Lane] = weakref.WeakKeyDictionary()


def lane(client: redis.Redis) -> Lane:
    """The :class:`Lane` of ``client`` (one per client, dropped with it)."""
    found = _lanes.get(client)
    if found is None:
        found = _lanes[client] = Lane(client)
    return found
