"""Hostile clients against the real service (``botify serve``: gunicorn, gevent workers).

Bodies that broke the parser (deep nesting, integers of hundreds of digits), chunked bodies (too
large, badly framed), URLs Flask answered in HTML (``/static``, ``//`` in a path), unexpected
exceptions, and clients that send their headers and then stall. Requests are written on raw sockets,
so what reaches the server is exactly what is written here. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import socket
import threading
import time

import pytest

from botify.events import iter_events
from botify.service.schema import (
    BODY_TIMEOUT,
    MAX_BODY_BYTES,
    InvalidRequest,
    PlayReport,
    read_body,
)
from botify.store import EmbeddedRedis
from botify.store.catalog import synthetic_records, write_records
from tests.botify.service.serving import ServeProcess

CONFIG = {
    "DATA_LOG_FILE": "log/data.jsonl",
    "RECOMMENDERS": {"random": {"type": "random"}},
    "EXPERIMENTS": {"AA": ["random", "random"]},
    "ACTIVE_EXPERIMENT": "AA",
}
N_TRACKS = 50
GOOD = b'{"track": 1, "time": 0.5}'

# Loaded by every Python process of the service (PYTHONPATH): GET / raises when asked to, so the
# test can see what an exception no code expected becomes.
RAISING_HOOK = '''
import botify.service.resources as resources
from flask import request


class CarriesData(Exception):
    """flask-restful answers an exception's `data` attribute as the body, if it has one."""

    data = b"not JSON"


_get = resources.Hello.get


def get(self):
    kind = request.headers.get("X-Raise")
    if kind == "plain":
        raise RuntimeError("injected\\nfailure")
    if kind == "data":
        raise CarriesData("injected with data")
    return _get(self)


resources.Hello.get = get
'''


def start_service(tmp_path, workers: int = 1, env: dict | None = None):
    """A private redis-server and ``botify serve`` over it (call ``stop`` on both)."""
    redis = EmbeddedRedis().start()
    tracks = write_records(tmp_path / "tracks.jsonl", synthetic_records(N_TRACKS, 10, rng=3))
    config = {**CONFIG, "REDIS_URL": redis.url, "TRACKS_CATALOG": str(tracks)}
    try:
        server = ServeProcess(tmp_path / "serve", config, env=env, workers=workers).start()
    except BaseException:
        redis.stop()
        raise
    return redis, server


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    hooks = tmp / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(RAISING_HOOK)
    path = os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH")) if p)
    redis, server = start_service(tmp, env={"PYTHONPATH": path})
    try:
        yield server
    finally:
        server.stop()
        redis.stop()


class Answer:
    """An HTTP response read off a raw socket."""

    def __init__(self, raw: bytes):
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else None
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    @property
    def message(self) -> str:
        assert self.headers.get("content-type") == "application/json", (self.status, self.body)
        return json.loads(self.body)["message"]


def read_answer(sock: socket.socket) -> Answer:
    """One response (its headers and ``Content-Length`` bytes of body)."""
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = Answer(data).headers.get("content-length")
            if length is not None and len(body) >= int(length):
                return Answer(data)
        chunk = sock.recv(65536)
        if not chunk:
            return Answer(data)
        data += chunk


def exchange(server, data: bytes, shut_write: bool = False) -> Answer:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        return read_answer(sock)


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def chunked(path: str, framed: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head.encode() + framed


def frame(body: bytes, size: int = 4096) -> bytes:
    """``body`` as chunks of ``size`` bytes and the last chunk."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def get(path: str, extra: str = "", method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()


def events(server) -> list[dict]:
    log = server.workdir / "log"
    return list(iter_events([log])) if any(log.glob("data*")) else []


PADDED = GOOD + b" " * (MAX_BODY_BYTES + 5000)  # valid JSON, over the limit

# (name, raw request, status, words the message must hold)
CASES = [
    ("nested 3000 deep", post("/next/1", b"[" * 3000 + b"]" * 3000), 400,
     ["body", "nested too deeply"]),
    ("time nested 3000 deep", post("/next/1", b'{"track": 1, "time": ' + b"[" * 3000
                                   + b"]" * 3000 + b"}"), 400, ["body", "nested too deeply"]),
    ("objects nested 2000 deep", post("/next/1", b'{"a":' * 2000 + b"1" + b"}" * 2000), 400,
     ["body", "nested too deeply"]),
    ("time of 400 digits", post("/next/1", b'{"track": 1, "time": ' + b"9" * 400 + b"}"), 400,
     ["time", "[0, 1]", "400 digits"]),
    ("time of -400 digits", post("/next/1", b'{"track": 1, "time": -' + b"9" * 400 + b"}"), 400,
     ["time", "[0, 1]", "400 digits"]),
    ("time of 30 digits", post("/next/1", b'{"track": 1, "time": ' + b"9" * 30 + b"}"), 400,
     ["time", "[0, 1]"]),
    ("time of 5000 digits", post("/next/1", b'{"track": 1, "time": ' + b"9" * 5000 + b"}"), 400,
     ["time", "5000 digits"]),
    ("track of 400 digits", post("/next/1", b'{"track": ' + b"9" * 400 + b', "time": 0.5}'), 400,
     ["track", "2^63-1", "400 digits"]),
    ("track of 5000 digits and NaN", post("/next/1", b'{"track": ' + b"9" * 5000
                                          + b', "time": NaN}'), 400, ["track", "5000 digits"]),
    ("track 2^64", post("/next/1", b'{"track": 18446744073709551616, "time": 0.5}'), 400,
     ["track"]),
    ("user of 60 digits", post("/next/" + "9" * 60, GOOD), 400, ["user", "2^63-1"]),
    ("Content-Length over the limit", post("/next/1", PADDED), 413, ["body", "65536"]),
    ("chunked over the limit", chunked("/next/1", frame(PADDED)), 413,
     ["body", "65536", "chunked"]),
    ("chunked, one huge chunk", chunked("/next/1", frame(PADDED, len(PADDED))), 413,
     ["body", "65536"]),
    ("bad chunk size", chunked("/next/1", b"zz\r\n" + GOOD + b"\r\n0\r\n\r\n"), 400,
     ["body", "could not be read", "chunk"]),
    ("chunk longer than its size", chunked("/next/1", b"4\r\n" + GOOD + b"\r\n0\r\n\r\n"), 400,
     ["body", "could not be read"]),
    ("bad chunk extension", chunked("/next/1", b"19;\x01\r\n" + GOOD + b"\r\n0\r\n\r\n"), 400,
     ["body", "could not be read"]),
    ("GET /static/x", get("/static/x"), 404, ["GET /static/x", "no such resource", "/next"]),
    ("GET /static/", get("/static/"), 404, ["no such resource"]),
    ("POST /next/1%2F2", post("/next/1%2F2", GOOD), 404, ["/next/1/2", "no such resource"]),
    ("POST /next/%2F1", post("/next/%2F1", GOOD), 404, ["/next//1", "no such resource"]),
    ("GET /track/%2F", get("/track/%2F"), 404, ["/track//", "no such resource"]),
    ("GET /track//3", get("/track//3"), 404, ["/track//3", "no such resource"]),
    ("GET /nowhere", get("/nowhere"), 404, ["GET /nowhere", "no such resource", "POST /last"]),
    ("GET /next/1", get("/next/1"), 405, ["GET /next/1", "not allowed", "POST"]),
    ("DELETE /", get("/", method="DELETE"), 405, ["DELETE /", "not allowed", "GET"]),
    ("PUT /track/3", get("/track/3", method="PUT"), 405, ["PUT /track/3", "not allowed"]),
    ("GET / raising", get("/", "X-Raise: plain\r\n"), 500,
     ["GET /", "internal error", "RuntimeError"]),
    ("GET / raising with data", get("/", "X-Raise: data\r\n"), 500,
     ["GET /", "internal error", "CarriesData"]),
]


@pytest.mark.parametrize(("name", "data", "status", "words"), CASES, ids=[c[0] for c in CASES])
def test_hostile_request_gets_a_json_answer(service, name, data, status, words):
    before = len(events(service))
    answer = exchange(service, data)
    assert answer.status == status, (answer.status, answer.body[:300])
    message = answer.message
    for word in words:
        assert word in message, message
    assert "Traceback" not in message
    if status == 405:
        assert "allow" in answer.headers
    assert len(events(service)) == before, "a refused request must not be logged"


def test_chunked_bodies_within_the_limit_are_served(service):
    before = len(events(service))
    for size in (1, 7, 4096):
        answer = exchange(service, chunked("/next/1", frame(GOOD + b" " * 1000, size)))
        assert answer.status == 200, answer.body
        assert json.loads(answer.body)["user"] == 1
    just = GOOD + b" " * (MAX_BODY_BYTES - len(GOOD))
    assert exchange(service, chunked("/next/2", frame(just))).status == 200
    assert len(events(service)) == before + 4


def test_truncated_bodies_are_400(service):
    answer = exchange(service, post("/next/1", GOOD)[:-5], shut_write=True)
    assert answer.status == 400
    assert "ended after 20 of the 25 bytes" in answer.message
    answer = exchange(service, chunked("/next/1", b"19\r\n" + GOOD[:10]), shut_write=True)
    assert answer.status == 400 and "could not be read" in answer.message


def test_unexpected_exceptions_are_one_log_line(service):
    for kind in ("plain", "data"):
        assert exchange(service, get("/", f"X-Raise: {kind}\r\n")).status == 500
    time.sleep(0.2)
    lines = [line for line in service.output.splitlines() if "injected" in line]
    assert any("unexpected RuntimeError: injected failure" in line for line in lines), lines
    assert any("unexpected CarriesData: injected with data" in line for line in lines), lines
    assert all("GET /" in line and "sitecustomize.py" in line for line in lines), lines
    assert "Traceback" not in service.output


def assert_stalled_body_is_408_and_closed(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sent = time.monotonic()
        sock.sendall(post("/next/1", GOOD)[:-20])
        answer = read_answer(sock)
        answered = time.monotonic() - sent
        assert answer.status == 408
        assert "body: not received within" in answer.message
        assert BODY_TIMEOUT - 0.1 < answered < BODY_TIMEOUT + 1.5
        sock.settimeout(1.0)
        assert sock.recv(100) == b"", "the connection must be closed after a 408"
    # The service still answers on new connections.
    assert exchange(server, post("/next/1", GOOD)).status == 200


def test_a_stalled_body_is_408_and_closed(service):
    assert_stalled_body_is_408_and_closed(service)


def test_a_stalled_body_is_408_and_closed_under_gevent_pywsgi(tmp_path):
    redis, server = start_service(tmp_path, env={"BOTIFY_WORKER_CLASS": "gevent_pywsgi"})
    try:
        assert_stalled_body_is_408_and_closed(server)
        answer = exchange(server, chunked("/next/1", frame(PADDED)))
        assert answer.status == 413 and "65536" in answer.message
    finally:
        server.stop()
        redis.stop()


def test_stalled_clients_do_not_lock_others_out(tmp_path):
    """150 connections that stall (mostly mid-body) against 2 workers x 50 connections.

    Without a body timeout they held every slot for good, and every new client waited forever.
    Now each is answered 408 (or cut, if it stalled in its headers) and closed within about
    ``BODY_TIMEOUT``, so fresh clients are served within a few seconds.
    """
    redis, server = start_service(tmp_path, workers=2, env={"BOTIFY_WORKER_CONNECTIONS": "50"})
    stalled = []
    try:
        head = post("/next/1", GOOD)
        started = time.monotonic()
        for i in range(150):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            # Two in three stall in the body, one in three in the headers.
            sock.sendall(head[: len(head) - 20] if i % 3 else head[:30])
            stalled.append(sock)
        time.sleep(0.3)

        latencies, statuses = [], []

        def probe() -> None:
            sent = time.monotonic()
            try:
                statuses.append(exchange(server, post("/next/7", GOOD)).status)
            except OSError as exc:
                statuses.append(type(exc).__name__)
            latencies.append(time.monotonic() - sent)

        probes = [threading.Thread(target=probe) for _ in range(10)]
        for thread in probes:
            thread.start()
        for thread in probes:
            thread.join(15)
        assert statuses == [200] * 10, statuses
        assert max(latencies) < 2 * BODY_TIMEOUT + 1, latencies

        # Every stalled connection is closed by the server: answered 408, or cut without answer.
        closed, answers = {}, {}
        selector = selectors.DefaultSelector()
        for sock in stalled:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = started + 3 * BODY_TIMEOUT + 3
        while len(closed) < len(stalled) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                try:
                    data = key.fileobj.recv(65536)
                except ConnectionResetError:
                    data = b""
                if data:
                    answers[key.fileobj] = answers.get(key.fileobj, b"") + data
                else:
                    closed[key.fileobj] = time.monotonic() - started
                    selector.unregister(key.fileobj)
        assert len(closed) == len(stalled), f"{len(stalled) - len(closed)} connections left open"
        for data in answers.values():
            assert Answer(data).status == 408, data[:200]
        assert len(answers) >= 90  # the ones stalled in their body
    finally:
        for sock in stalled:
            sock.close()
        server.stop()
        redis.stop()


# In-process: the reader and the parser alone.


class Stream:
    """A ``wsgi.input`` that hands out ``data`` in pieces, then raises ``error`` if given."""

    def __init__(self, data: bytes, piece: int = 3, error: Exception | None = None):
        self.data, self.piece, self.error, self.given = data, piece, error, 0

    def read(self, size: int) -> bytes:
        out, self.data = self.data[: min(size, self.piece)], self.data[min(size, self.piece):]
        self.given += len(out)
        if not out and self.error is not None:
            raise self.error
        return out


def test_read_body_limits():
    environ = {"CONTENT_LENGTH": str(len(GOOD)), "wsgi.input": Stream(GOOD)}
    assert read_body(environ) == GOOD
    # Over the limit by its Content-Length: refused before anything is read.
    stream = Stream(b"x" * 200)
    with pytest.raises(InvalidRequest) as caught:
        read_body({"CONTENT_LENGTH": "200", "wsgi.input": stream}, limit=100)
    assert caught.value.status == 413 and stream.given == 0
    # Chunked (the server ends the stream): one byte past the limit is read, then refused.
    stream = Stream(b"x" * 200)
    with pytest.raises(InvalidRequest) as caught:
        read_body({"wsgi.input_terminated": True, "wsgi.input": stream}, limit=100)
    assert caught.value.status == 413 and stream.given == 101
    stream = Stream(b"x" * 100)
    assert read_body({"wsgi.input_terminated": True, "wsgi.input": stream}, limit=100) == b"x" * 100
    # No length and a stream that may not end: no body, nothing read.
    stream = Stream(GOOD)
    assert read_body({"wsgi.input": stream}) == b"" and stream.given == 0
    with pytest.raises(InvalidRequest) as caught:
        read_body({"CONTENT_LENGTH": "1e3", "wsgi.input": Stream(GOOD)})
    assert caught.value.status == 400 and "Content-Length" in caught.value.message


def test_read_body_errors_are_400():
    environ = {"wsgi.input_terminated": True, "wsgi.input": Stream(b"{", error=ValueError("bad"))}
    with pytest.raises(InvalidRequest) as caught:
        read_body(environ)
    assert caught.value.status == 400 and "could not be read (bad)" in caught.value.message
    environ = {"CONTENT_LENGTH": "25", "wsgi.input": Stream(GOOD[:10])}
    with pytest.raises(InvalidRequest) as caught:
        read_body(environ)
    assert "ended after 10 of the 25 bytes" in caught.value.message


def fuzz_bodies(rng: random.Random, count: int):
    atoms = [b"0", b"1", b"-1", b"0.5", b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity",
             b"true", b"null", b'"x"', b'"\\ud800"', b"[]", b"{}", b"9" * 400, b"-" + b"9" * 5000,
             b"1" + b"0" * 4400, b"0." + b"0" * 400 + b"1", b"1e-400", b"18446744073709551616"]
    for _ in range(count):
        track, time_ = rng.choice(atoms), rng.choice(atoms)
        depth = rng.choice([0, 0, 1, 500, 1100, 5000])
        time_ = b"[" * depth + time_ + b"]" * depth
        body = b'{"track": ' + track + b', "time": ' + time_ + b"}"
        if rng.random() < 0.3:  # mangle a few bytes
            body = bytearray(body)
            for _ in range(rng.randint(1, 4)):
                body[rng.randrange(len(body))] = rng.randrange(256)
            body = bytes(body)
        yield body


def test_parse_raises_only_invalid_request():
    rng = random.Random(7)
    for body in fuzz_bodies(rng, 3000):
        try:
            report = PlayReport.parse(body)
        except InvalidRequest as exc:
            assert exc.status == 400 and len(exc.message) < 300, exc.message
        else:
            assert type(report.track) is int and 0.0 <= report.time <= 1.0
