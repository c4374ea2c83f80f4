"""A small keep-alive JSON-over-HTTP client for the remote agent (standard library only).

``requests`` spends about 0.65 ms of client CPU per call on this machine, about as much as the
botify service spends serving it. This client writes each request in one ``sendall`` on a
persistent socket and parses the answer with :class:`http.client.HTTPResponse`, a fraction of
that, so a multi-process run is limited by the service and not by its clients (see
``bench/bench_sim.py``). One connection per client, kept alive; separate connect and read
timeouts; a connection the server closed while idle (keep-alive timeout) is reopened before use.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from urllib.parse import urlsplit


class HTTPFailure(Exception):
    """The request got no HTTP answer; ``kind`` is "unreachable", "timeout" or "protocol"."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class KeepAliveClient:
    """POSTs JSON bodies to one server over a persistent connection.

    Args:
        url: base URL, e.g. ``http://localhost:5001`` (a path prefix is kept).
        connect_timeout: seconds to wait for the connection.
        read_timeout: seconds to wait for an answer.

    Raises:
        ValueError: the URL is not http(s)://host[:port][/prefix].
    """

    def __init__(self, url: str, connect_timeout: float = 3.0, read_timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        default_port = 443 if self.https else 80
        self.host_header = self.host if self.port == default_port else f"{self.host}:{self.port}"
        self._sock: socket.socket | None = None
        self._used = False

    def _socket(self) -> socket.socket:
        sock = self._sock
        if sock is not None and _closed_by_peer(sock):
            self.close()
            sock = None
        if sock is None:
            try:
                sock = socket.create_connection((self.host, self.port), self.connect_timeout)
            except TimeoutError:
                raise HTTPFailure("unreachable", "connection timed out") from None
            except OSError as exc:
                raise HTTPFailure("unreachable", exc.strerror or str(exc)) from None
            if self.https:
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=self.host)
            sock.settimeout(self.read_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self._used = False
        return sock

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request; returns the status and the body of the answer.

        Raises:
            HTTPFailure: no answer (refused, timed out, connection broken, not HTTP).
        """
        head = f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self.host_header}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        # headers and body in one send: one system call, one TCP segment
        message = (head + "Accept: application/json\r\n\r\n").encode("latin-1") + (body or b"")
        for attempt in (1, 2):
            sock = self._socket()
            reused = self._used
            try:
                sock.sendall(message)
                response = http.client.HTTPResponse(sock, method=method)
                response.begin()
                data = response.read()
                self._used = True
                if response.will_close:
                    self.close()
                return response.status, data
            except TimeoutError:
                self.close()
                raise HTTPFailure("timeout", f"no answer within {self.read_timeout:g} s") from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                # A kept-alive connection the server dropped before reading the request: retry
                # once on a new one. On a new connection it is a real failure.
                if not reused or attempt == 2:
                    raise HTTPFailure("unreachable", f"connection broken ({exc})") from None
            except http.client.HTTPException as exc:
                self.close()
                raise HTTPFailure("protocol", f"not an HTTP answer ({exc!r})") from None
            except OSError as exc:
                self.close()
                raise HTTPFailure("unreachable", exc.strerror or str(exc)) from None
        raise AssertionError("not reached")  # pragma: no cover

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle keep-alive socket has been closed by the server (readable at EOF)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
