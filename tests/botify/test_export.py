"""``botify logs export``: JSONL logs of several instances into Parquet, incrementally, losing
nothing and duplicating nothing; the readers take the export as they take the logs."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pandas as pd
import pytest

from botify import export as ex
from botify.analysis.synthetic import generate_events
from botify.cli import main
from botify.errors import DataError
from botify.events import read_events

START_MS = 1_700_000_000_000
DAY_MS = 86_400_000


def _lines(source: str, first: int, count: int, seed: int, start_ms: int = START_MS) -> list[bytes]:
    """``count`` events of a synthetic log with the ids ``source:first..``."""
    frame = generate_events(60, recommenders=("random", "sticky"), seed=seed, start_ms=start_ms)
    frame = frame.head(count)
    out = []
    for seq, row in enumerate(frame.itertuples(index=False), first):
        event = {
            "message": row.message, "timestamp": int(row.timestamp), "user": int(row.user),
            "track": int(row.track), "time": float(row.time), "latency": float(row.latency),
            "recommendation": None if pd.isna(row.recommendation) else int(row.recommendation),
            "experiments": row.experiments, "recommender": row.recommender,
            "id": f"{source}:{seq}",
        }
        out.append(orjson.dumps(event) + b"\n")
    return out


def _write(path: Path, lines: list[bytes], mode: str = "wb") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as file:
        file.writelines(lines)
    return path


@pytest.fixture
def instances(tmp_path):
    """Two instances' log directories, one process each, the second spanning two days."""
    a = _write(tmp_path / "a" / "data.a.1.jsonl", _lines("a.1", 1, 300, seed=1))
    b = _write(tmp_path / "b" / "data.b.1.jsonl",
               _lines("b.1", 1, 200, seed=2) + _lines("b.1", 201, 100, 3, START_MS + DAY_MS))
    return a.parent, b.parent


def _same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    key = ["id"]
    pd.testing.assert_frame_equal(left.sort_values(key, ignore_index=True),
                                  right.sort_values(key, ignore_index=True))


def test_the_export_reads_back_as_the_logs(tmp_path, instances):
    result = ex.export_logs(instances, tmp_path / "ds")
    assert (result.events, result.duplicates, result.malformed) == (600, 0, [])
    days = sorted(p.parent.name for p in result.partitions)
    assert len(days) == 2 and all(day.startswith("date=20") for day in days)
    exported = read_events([tmp_path / "ds"])
    _same(exported, read_events(instances))
    assert exported["timestamp"].is_monotonic_increasing
    # One partition file alone is readable too, and holds only its day.
    one = read_events([result.partitions[0]])
    assert 0 < len(one) < 600


def test_a_second_run_exports_only_what_is_new_also_after_rotation(tmp_path, instances):
    a, _ = instances
    ex.export_logs(instances, tmp_path / "ds")
    again = ex.export_logs(instances, tmp_path / "ds")
    assert (again.events, again.read_bytes, again.partitions) == (0, 0, [])
    # The process writes on, then its file is rotated and a new one begun.
    current = a / "data.a.1.jsonl"
    _write(current, _lines("a.1", 301, 20, seed=4, start_ms=START_MS + 10), mode="ab")
    os.rename(current, a / "data.a.1.jsonl.1")
    _write(current, _lines("a.1", 321, 30, seed=5, start_ms=START_MS + 20))
    third = ex.export_logs(instances, tmp_path / "ds")
    assert (third.events, third.duplicates) == (50, 0)
    assert len(read_events([tmp_path / "ds"])) == 650
    _same(read_events([tmp_path / "ds"]), read_events(instances))


def test_malformed_lines_are_named_counted_and_skipped_a_partial_line_waits(tmp_path, instances):
    a, _ = instances
    log = a / "data.a.1.jsonl"
    (finished,) = _lines("a.1", 999, 1, seed=6)
    _write(log, [b"{not json\n", b'{"message": "next", "user": 1}\n',
                 b'{"message": "next", "timestamp": 5, "user": "x", "track": 1, "time": 0.5, '
                 b'"latency": 1.0}\n', finished[:25]], mode="ab")
    result = ex.export_logs(instances, tmp_path / "ds")
    assert result.events == 600
    assert [e.split(": ", 1)[0] for e in result.malformed] == [f"{log}:301", f"{log}:302",
                                                                 f"{log}:303"]
    assert "missing field(s) timestamp, track, time, latency" in result.malformed[1]
    assert "user must be an integer" in result.malformed[2]
    manifest = ex.read_manifest(tmp_path / "ds")
    assert manifest["malformed"] == 3
    # The cut line is finished by its writer: the next run exports it, and only it.
    _write(log, [finished[25:]], mode="ab")
    later = ex.export_logs(instances, tmp_path / "ds")
    assert (later.events, later.malformed) == (1, [])


def test_an_event_seen_twice_is_exported_once(tmp_path, instances):
    a, b = instances
    copy = _write(tmp_path / "copy" / "data.a.1.jsonl", (a / "data.a.1.jsonl").read_bytes()
                  .splitlines(keepends=True)[:100])
    result = ex.export_logs([a, b, copy.parent], tmp_path / "ds")
    assert (result.events, result.duplicates) == (600, 100)
    manifest = ex.read_manifest(tmp_path / "ds")
    assert manifest["ids"]["a.1"] == [[1, 300]]


def test_an_interrupted_run_leaves_no_partial_partition_and_the_next_repairs_it(
    tmp_path, instances, monkeypatch
):
    real = os.replace
    calls = []

    def replace_then_fail(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the second partition: the disk fills, the process dies
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(ex.os, "replace", replace_then_fail)
    with pytest.raises(OSError):
        ex.export_logs(instances, tmp_path / "ds")
    monkeypatch.setattr(ex.os, "replace", real)
    assert not list((tmp_path / "ds").rglob(".part-*")), "a temporary file was left"
    assert not (tmp_path / "ds" / ex.MANIFEST).exists()
    repaired = ex.export_logs(instances, tmp_path / "ds")
    assert (repaired.events, repaired.duplicates) == (600, 0)
    # The first partition, renamed before the failure, was written again under the same name.
    assert calls[0] in repaired.partitions
    _same(read_events([tmp_path / "ds"]), read_events(instances))


def test_the_command(tmp_path, instances, capsys):
    a, b = instances
    assert main(["logs", "export", str(a), str(b), "--to", str(tmp_path / "ds")]) == 0
    out = capsys.readouterr().out
    assert "600 events exported, 0 duplicate(s) skipped, 0 malformed line(s) skipped" in out
    assert "wrote " in out
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / ex.MANIFEST).write_text("[1, 2")
    assert main(["logs", "export", str(a), "--to", str(tmp_path / "broken")]) == 2
    assert "not a readable manifest" in capsys.readouterr().err
    assert main(["logs", "export", str(tmp_path / "nowhere"), "--to", str(tmp_path / "x")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_analyze_gives_the_same_report_on_the_export(tmp_path, instances):
    ex.export_logs(instances, tmp_path / "ds")
    sources = {"jsonl": [str(p) for p in instances], "parquet": [str(tmp_path / "ds")]}
    for name, source in sources.items():
        assert main(["analyze", *source, "--experiment", "AB", "--out",
                     str(tmp_path / name)]) == 0
    jsonl = pd.read_csv(tmp_path / "jsonl" / "effects.csv")
    parquet = pd.read_csv(tmp_path / "parquet" / "effects.csv")
    assert len(jsonl) > 0
    pd.testing.assert_frame_equal(jsonl, parquet)


def test_a_file_that_is_not_parquet_is_a_data_error(tmp_path):
    bad = tmp_path / "events.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a Parquet file of events"):
        read_events([bad])


def test_a_large_run_writes_several_files_per_partition(tmp_path, instances, monkeypatch):
    monkeypatch.setattr(ex, "FLUSH_EVENTS", 100)
    result = ex.export_logs(instances, tmp_path / "ds")
    assert len(result.partitions) >= 6  # 600 events, written every 100, over two days
    assert len({p.name for p in result.partitions}) > 1
    _same(read_events([tmp_path / "ds"]), read_events(instances))
