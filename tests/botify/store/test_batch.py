"""Batches on a single Redis: one round trip, errors in place, only clean connections reused."""

from __future__ import annotations

import time

import pytest
import redis

from botify.store.batch import Batch, lane
from botify.store.connection import open_client


def run(client, *commands):
    batch = Batch(client)
    indexes = [batch.add(name, *args) for name, *args in commands]
    batch.execute()
    return [batch.result(i) for i in indexes]


def test_results_come_back_in_order_with_redis_py_types(redis_client):
    redis_client.set("plain", "x")
    assert run(redis_client, ("sadd", "s", 1, 2), ("smembers", "s"), ("get", "missing"),
               ("rpush", "l", "a", "b"), ("lrange", "l", 0, -1), ("hset", "h", "k", "v"),
               ("hgetall", "h"), ("expire", "s", 10)) == [
        2, {b"1", b"2"}, None, 2, [b"a", b"b"], 1, {b"k": b"v"}, True]


def test_a_failing_command_is_missing_data_and_the_rest_still_answer(redis_client):
    redis_client.set("plain", "x")
    batch = Batch(redis_client)
    wrong = batch.add("smembers", "plain")  # WRONGTYPE
    right = batch.add("get", "plain")
    raw = batch.execute()
    assert isinstance(raw[wrong], redis.ResponseError)
    assert batch.result(wrong) is None
    assert batch.result(right) == b"x"


def test_batches_reuse_one_connection(redis_client):
    ids = {run(redis_client, ("client_id",))[0] for _ in range(5)}
    assert len(ids) == 1


def test_a_connection_closed_by_redis_is_reopened_and_the_batch_answers(redis_server):
    client = open_client(redis_server.url)
    try:
        (first,) = run(client, ("client_id",))
        killer = open_client(redis_server.url)
        assert killer.client_kill_filter(_id=first) == 1
        killer.close()
        second, value = run(client, ("client_id",), ("set", "after-kill", 1))
        assert second != first and value is True
    finally:
        client.close()


def test_an_interrupted_batch_drops_its_connection_so_no_stale_reply_is_read(redis_server):
    client = open_client(redis_server.url, socket_timeout=0.1)
    try:
        client.delete("queue")
        (first,) = run(client, ("client_id",))
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            run(client, ("blpop", ["queue"], 1))  # blocks past the socket timeout, sent twice
        assert time.monotonic() - started < 0.9
        # The replies the blocked BLPOPs still owe must not be taken as the next batch's.
        client.rpush("queue", "late")
        second, value = run(client, ("client_id",), ("get", "missing"))
        assert second != first and value is None
    finally:
        client.close()


def test_each_client_has_its_own_lane(redis_server):
    a, b = open_client(redis_server.url), open_client(redis_server.url)
    try:
        assert lane(a) is lane(a) and lane(a) is not lane(b)
    finally:
        a.close()
        b.close()


def test_commands_are_written_as_redis_py_writes_them(redis_client):
    from botify.store.batch import _pack

    connection = redis_client.connection_pool.make_connection()
    commands = [("CLIENT ID",), ("SET", "k", b"\x00bytes", "EX", 10), ("SADD", "s", 7, -3, 2**40),
                ("HSET", "h", "f", 0.25, "g", 1e-7), ("LPUSH", "l", "naïve", memoryview(b"mv"))]
    assert _pack(connection, commands) == b"".join(connection.pack_commands(commands))
    with pytest.raises(redis.DataError):
        _pack(connection, [("SET", "k", True)])
