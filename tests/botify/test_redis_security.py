"""The embedded Redis is closed to other local clients: a password, no dangerous commands, private
files, and no secret on its command line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from botify.store.redis_server import (
    DISABLED_COMMANDS,
    EmbeddedRedis,
    advertised_url,
    discovery_file,
    redacted,
)


@pytest.fixture()
def runtime(tmp_path, monkeypatch):
    """A private runtime directory, so the test's discovery file is its own."""
    path = tmp_path / "runtime"
    path.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path


@pytest.fixture()
def embedded(runtime):
    with EmbeddedRedis(advertise=True) as server:
        yield server


def stranger(port: int, **options) -> redis.Redis:
    """A client of ``port`` that does not retry (redis-py retries a refused AUTH with backoff)."""
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2,
                       retry=Retry(NoBackoff(), 0), **options)


def test_a_client_without_the_password_is_refused(embedded):
    anonymous = stranger(embedded.port)
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        with pytest.raises(redis.AuthenticationError):
            anonymous.execute_command("CONFIG", "SET", "dir", "/tmp")
        wrong = stranger(embedded.port, password="guess")
        with pytest.raises(redis.AuthenticationError):
            wrong.ping()
        wrong.close()
    finally:
        anonymous.close()


def test_with_the_password_files_cannot_be_written_nor_the_server_reconfigured(embedded):
    client = redis.Redis.from_url(embedded.url, socket_timeout=2)
    try:
        assert client.ping()
        for command in (("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "GET", "dir"), ("SAVE",),
                        ("BGSAVE",), ("DEBUG", "SLEEP", "0"), ("SHUTDOWN", "NOSAVE"),
                        ("REPLICAOF", "127.0.0.1", "1"), ("MODULE", "LIST")):
            with pytest.raises(redis.ResponseError, match="unknown command"):
                client.execute_command(*command)
        # What the project and its tests use keeps working.
        client.set("key", "value")
        assert client.get("key") == b"value"
        assert client.flushdb() and client.flushall()
        assert client.dbsize() == 0
        assert client.ping()  # still running after the SHUTDOWN attempt
    finally:
        client.close()


def test_the_discovery_file_and_its_directory_are_private(embedded, runtime):
    path = discovery_file()
    assert path.parent.parent == runtime
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["url"] == embedded.url
    assert advertised_url() == embedded.url
    assert not [p.name for p in path.parent.iterdir() if p != path], "no temporary file left"


def test_an_existing_open_directory_is_made_private(runtime):
    directory = discovery_file().parent
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    with EmbeddedRedis(advertise=True):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(discovery_file().stat().st_mode) == 0o600
    assert advertised_url() is None


def test_the_password_is_not_on_the_command_line_and_the_config_is_private(embedded):
    pid = embedded._process.pid
    assert embedded.password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert not any(embedded.password in str(arg) for arg in embedded._process.args)
    workdir = embedded._workdir
    assert stat.S_IMODE(os.stat(workdir).st_mode) == 0o700
    config = Path(workdir) / "redis.conf"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    text = config.read_text()
    assert f"requirepass {embedded.password}" in text
    for command in DISABLED_COMMANDS:
        assert f'rename-command {command} ""' in text


def test_the_url_carries_the_password_and_redacted_hides_it(embedded):
    assert embedded.url == f"redis://:{embedded.password}@127.0.0.1:{embedded.port}/0"
    assert len(embedded.password) >= 24
    assert EmbeddedRedis().password != embedded.password
    shown = redacted(embedded.url)
    assert embedded.password not in shown
    assert shown == f"redis://:***@127.0.0.1:{embedded.port}/0"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redacted("redis://user:secret@redis:6379/2") == "redis://user:***@redis:6379/2"


def test_serve_does_not_print_the_password(runtime, tmp_path):
    from tests.botify.service.serving import ServeProcess

    config = {"DATA_LOG_FILE": "log/data.jsonl", "RECOMMENDERS": {"random": {"type": "random"}},
              "EXPERIMENTS": {"AA": ["random", "random"]}, "ACTIVE_EXPERIMENT": "AA"}
    with ServeProcess(tmp_path / "serve", config, env={"XDG_RUNTIME_DIR": str(runtime)},
                      workers=1) as server:
        url = json.loads(discovery_file().read_text())["url"]
        password = url.split("@", 1)[0].rsplit(":", 1)[1]
        assert password
        assert stat.S_IMODE(discovery_file().stat().st_mode) == 0o600
    assert f"started its own redis-server at {redacted(url)}" in server.output
    assert password not in server.output
