"""The dashboard's incremental reading and numbers: equal to ``analyze`` on the same events."""

from __future__ import annotations

import math
import os
import time

import orjson
import pytest

from botify.analysis import analyze
from botify.analysis.synthetic import generate_events, write_events
from botify.dashboard.follow import LogFollower
from botify.dashboard.state import Dashboard
from botify.events import read_events


def _lines(tmp_path, **kwargs) -> list[bytes]:
    events = generate_events(**{"n_users": 600, "seed": 3, **kwargs})
    write_events(events, tmp_path / "all.jsonl")
    lines = (tmp_path / "all.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "all.jsonl").unlink()
    return lines


def _assert_equal(snapshot: dict, logs, experiment: str = "AB") -> None:
    analysis = analyze(read_events([logs]), experiment)
    rows = {row["treatment"]: row for row in snapshot["treatments"]}
    assert list(rows) == analysis.treatments["treatment"].tolist()
    for summary in analysis.treatments.to_dict("records"):
        row = rows[summary["treatment"]]
        for key in ("recommender", "users", "sessions", "events"):
            assert row[key] == summary[key], (summary["treatment"], key)
    effects = analysis.effects[analysis.effects["metric"] == "mean_time_per_session"]
    for effect in effects.to_dict("records"):
        row = rows[effect["treatment"]]
        assert row["mean"] == pytest.approx(effect["treatment_mean"], rel=1e-12)
        for key in ("effect", "lower", "upper", "p_value", "p_value_holm"):
            assert row[key] == pytest.approx(effect[key], rel=1e-9), key
        assert row["significant"] == effect["significant"]
    control = rows[analysis.control]
    assert control["mean"] == pytest.approx(effects["control_mean"].iloc[0], rel=1e-12)
    assert snapshot["srm"]["p_value"] == pytest.approx(analysis.srm.p_value, rel=1e-12)
    assert snapshot["srm"]["observed"] == dict(
        zip(analysis.srm.treatments, analysis.srm.observed, strict=True)
    )
    over_time = analysis.over_time
    for series in snapshot["over_time"]:
        expected = over_time[over_time["treatment"] == series["treatment"]]
        assert [p[0] for p in series["points"]] == expected["timestamp"].tolist()
        assert [p[1] for p in series["points"]] == pytest.approx(expected["time"].tolist())
        assert [p[3] for p in series["points"]] == expected["sessions"].tolist()


def test_growing_rotating_log_with_partial_lines_gives_the_analysis(tmp_path):
    lines = _lines(tmp_path, recommenders=("a", "b", "c"), time_effects={"T1": 1.2},
                   open_sessions=0.1)
    logs = tmp_path / "logs"
    logs.mkdir()
    current = logs / "data.h.1.jsonl"
    other = logs / "data.h.2.jsonl"
    dashboard = Dashboard(logs, "AB")
    dashboard.refresh()
    assert dashboard.snapshot()["message"] == "no event carries the experiment 'AB' yet"

    n = len(lines)
    cut = [0, n // 5, 2 * n // 5, 3 * n // 5, 4 * n // 5, n]
    pieces = [b"".join(lines[a:b]) for a, b in zip(cut, cut[1:], strict=False)]
    # Piece 0 ends in a partial line, finished by the start of piece 1.
    current.write_bytes(pieces[0][:-7])
    dashboard.refresh()
    with open(current, "ab") as handle:
        handle.write(pieces[0][-7:] + pieces[1])
    dashboard.refresh()
    # The writer rotates: the file renamed to .1 keeps its content, and is not read again.
    current.rename(logs / "data.h.1.jsonl.1")
    current.write_bytes(pieces[2])
    other.write_bytes(pieces[3])  # a second process
    dashboard.refresh()
    with open(other, "ab") as handle:
        handle.write(pieces[4])
    dashboard.refresh()
    snapshot = dashboard.snapshot()
    assert snapshot["events"] == n
    assert snapshot["malformed_lines"] == 0
    assert dashboard.follower.bytes_read == sum(map(len, lines))
    _assert_equal(snapshot, logs)
    assert any("still open" in w for w in snapshot["warnings"])


def test_follower_reads_only_new_bytes_and_tracks_inodes(tmp_path):
    follower = LogFollower(tmp_path / "missing")
    assert follower.poll() == []  # not there yet
    logs = tmp_path / "missing"
    logs.mkdir()
    (logs / "data.h.1.jsonl").write_bytes(b'{"a": 1}\n{"a": 2')
    (logs / ".hidden").write_bytes(b"x\n")
    (logs / "data.h.1.jsonl.torn").write_bytes(b"torn\n")
    assert follower.poll() == [b'{"a": 1}']
    assert follower.poll() == []
    with open(logs / "data.h.1.jsonl", "ab") as handle:
        handle.write(b'}\n\n{"a": 3}\n')
    assert follower.poll() == [b'{"a": 2}', b'{"a": 3}']
    os.rename(logs / "data.h.1.jsonl", logs / "data.h.1.jsonl.1")
    (logs / "data.h.1.jsonl").write_bytes(b'{"a": 4}\n')
    assert follower.poll() == [b'{"a": 4}']
    (logs / "day2").mkdir()
    (logs / "day2" / "data.h.9.jsonl").write_bytes(b'{"a": 5}\n')
    assert follower.poll() == [b'{"a": 5}']


def test_lines_that_are_not_events_are_counted_and_skipped(tmp_path):
    lines = _lines(tmp_path, n_users=50)
    logs = tmp_path / "logs"
    logs.mkdir()
    bad = [b"not json\n", b"[1, 2]\n", b'{"message": "next"}\n', b'{"message": "next", '
           b'"timestamp": 1, "user": "x", "track": 1, "time": 1, "latency": 0}\n']
    (logs / "data.h.1.jsonl").write_bytes(b"".join(lines[:10] + bad + lines[10:]))
    dashboard = Dashboard(logs, "AB")
    dashboard.refresh()
    snapshot = dashboard.snapshot()
    assert snapshot["malformed_lines"] == len(bad)
    assert snapshot["events"] == len(lines)


def test_events_out_of_order_across_files_are_held_and_taken_in_order(tmp_path):
    def event(message, ts, listened):
        return orjson.dumps({"message": message, "timestamp": ts, "user": 1, "track": 1,
                             "time": listened, "latency": 0.001, "recommendation": None,
                             "experiments": {"AB": "C"}, "recommender": "a"}) + b"\n"

    # The 'last' is read first (from worker 2's file), the earlier 'next' a look later.
    live = tmp_path / "live"
    live.mkdir()
    stamp = time.time_ns() // 1_000_000
    (live / "data.h.2.jsonl").write_bytes(event("last", stamp + 20, 0.5))
    dashboard = Dashboard(live, "AB")
    dashboard.refresh()
    assert dashboard.pending == 1  # too recent: another file may still get an earlier event
    (live / "data.h.1.jsonl").write_bytes(event("next", stamp + 10, 1.0))
    time.sleep(1.2)
    dashboard.refresh()
    assert dashboard.pending == 0
    row = dashboard.snapshot()["treatments"][0]
    assert row["sessions"] == 1 and row["users"] == 1
    assert row["mean"] == pytest.approx(1.5)


def test_every_experiment_is_followed_and_the_latest_shown(tmp_path):
    logs = tmp_path / "logs"
    for day, name in ((1, "DAY1"), (2, "DAY2")):
        (logs / f"day{day}").mkdir(parents=True)
        events = generate_events(80, experiment=name, period=day, seed=day)
        write_events(events, logs / f"day{day}" / "data.h.1.jsonl")
    dashboard = Dashboard(logs)
    dashboard.refresh()
    snapshot = dashboard.snapshot()
    assert snapshot["experiment"] == "DAY2"
    assert snapshot["experiments"] == ["DAY2", "DAY1"]
    _assert_equal(snapshot, logs / "day2", "DAY2")
    _assert_equal(dashboard.snapshot("DAY1"), logs / "day1", "DAY1")
    assert dashboard.snapshot("NOPE")["message"].startswith("no event carries")
    assert not math.isnan(snapshot["srm"]["p_value"])


def test_a_parquet_export_gives_the_same_numbers_and_new_runs_are_taken_in(tmp_path):
    from botify.export import export_logs

    lines = _lines(tmp_path, recommenders=("a", "b"), time_effects={"T1": 1.2})
    logs = tmp_path / "logs"
    logs.mkdir()
    half = len(lines) // 2
    (logs / "data.h.1.jsonl").write_bytes(b"".join(lines[:half]))
    export_logs([logs], tmp_path / "export")
    dashboard = Dashboard(tmp_path / "export", "AB")
    dashboard.refresh()
    assert dashboard.snapshot()["events"] == half
    with open(logs / "data.h.1.jsonl", "ab") as handle:
        handle.write(b"".join(lines[half:]))
    export_logs([logs], tmp_path / "export")  # a second run: a new file in the partition
    dashboard.refresh()
    snapshot = dashboard.snapshot()
    assert snapshot["events"] == len(lines) and snapshot["malformed_lines"] == 0
    _assert_equal(snapshot, logs)
