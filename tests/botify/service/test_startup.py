"""The master's startup step: done in a child process, so the master keeps none of its memory."""

from __future__ import annotations

import orjson
import psutil
import pytest

from botify.errors import DataError
from botify.service.startup import prepare
from botify.store.catalog import synthetic_records
from tests.botify.service.conftest import service_config


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children()}


def _write(path, records):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return str(path)


def test_the_load_runs_in_a_child_and_leaves_the_master_small(redis_server, tmp_path):
    tracks = 50_000
    catalog = _write(tmp_path / "tracks.jsonl", synthetic_records(tracks, tracks // 10, 0))
    lists = _write(tmp_path / "i2i.jsonl", ({"track": t, "recommendations": list(range(t, t + 100)),
                                             "weights": [0.5] * 100} for t in range(tracks)))
    config = service_config(redis_server.url, tmp_path / "log" / "data.jsonl",
                            TRACKS_CATALOG=catalog, ARTIFACTS={"i2i_cooc": lists})
    said: list[str] = []
    children = _children()
    before = psutil.Process().memory_info().rss
    prepare(config, said.append)
    grown = (psutil.Process().memory_info().rss - before) / 2**20
    assert any(f"{tracks} tracks (loaded" in line for line in said)
    assert any(f"loaded {tracks} per_track records" in line for line in said)
    # Parsing 50,000 records and 5,000,000 list entries builds hundreds of MB of objects.
    assert grown < 20, f"the master grew by {grown:.0f} MB"
    assert _children() == children, "the child is gone"


def test_a_failure_in_the_child_is_the_masters_error(redis_server, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"track": 1}\n')
    config = service_config(redis_server.url, tmp_path / "log" / "data.jsonl",
                            TRACKS_CATALOG=str(bad))
    children = _children()
    with pytest.raises(DataError, match="bad.jsonl:1"):
        prepare(config, lambda line: None)
    assert _children() == children
