"""The remote agent's HTTP client against a small real HTTP/1.1 server (keep-alive, timeouts)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sim.agents import RemoteAgent
from sim.agents.http import HTTPFailure, KeepAliveClient
from sim.envs.session import Session, plan_sessions
from sim.errors import SimError


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.server.connections += 1  # one handler per connection

    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        mode = server.mode
        if mode == "slow":
            time.sleep(1.0)
        if mode == "error":
            payload, status = b'{"message": "boom"}', 500
        elif mode == "garbage":
            payload, status = b"<html>", 200
        else:
            payload, status = (
                json.dumps({"user": 1, "track": (body["track"] + 1) % 50}).encode(),
                200,
            )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        if mode == "close-after":
            self.close_connection = True


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.connections = 0
    httpd.mode = "ok"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(server):
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_requests_share_one_connection(server):
    client = KeepAliveClient(_url(server))
    for i in range(20):
        status, data = client.request("POST", "/next/1", json.dumps({"track": i}).encode())
        assert status == 200 and json.loads(data)["track"] == i + 1
    client.close()
    assert server.connections == 1


def test_a_connection_closed_by_the_server_is_reopened(server):
    server.mode = "close-after"
    client = KeepAliveClient(_url(server))
    for i in range(3):
        status, _ = client.request("POST", "/next/1", json.dumps({"track": i}).encode())
        assert status == 200
    client.close()
    assert server.connections == 3


def test_read_timeout(server):
    server.mode = "slow"
    client = KeepAliveClient(_url(server), read_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(HTTPFailure, match="no answer within 0.2 s"):
        client.request("POST", "/next/1", b'{"track": 1}')
    assert time.monotonic() - started < 0.9
    client.close()


@pytest.mark.parametrize(
    ("mode", "message"),
    [("error", r"answered 500 to POST /next/\d+ .*boom"), ("garbage", "non-JSON")],
    ids=["http-500", "not-json"],
)
def test_remote_agent_turns_bad_answers_into_clear_errors(server, small_world, mode, message):
    server.mode = mode
    (start,) = plan_sessions(small_world, 1, seed=0)
    with RemoteAgent(small_world, _url(server)) as agent:
        with pytest.raises(SimError, match=message):
            agent.recommend(Session(small_world, start))


def test_bad_url_is_a_clear_error(small_world):
    with pytest.raises(SimError, match="not an http"):
        RemoteAgent(small_world, "localhost:5001")
