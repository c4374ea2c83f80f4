"""The event-log reader: its fast path and the messages of its error path."""

from __future__ import annotations

import orjson
import pandas as pd
import pytest

from botify.analysis.synthetic import generate_events, write_events
from botify.errors import DataError
from botify.events import iter_events, log_files, read_events

EVENT = {
    "message": "next", "timestamp": 1, "user": 3, "track": 4, "time": 0.5, "latency": 0.01,
    "recommendation": 9, "experiments": {"AB": "C"}, "recommender": "random",
}


def _write(path, lines):
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_read_events_equals_iter_events(tmp_path):
    log = write_events(generate_events(50, open_sessions=0.5, seed=1), tmp_path / "data.jsonl")
    frame = read_events([log])
    rows = list(iter_events([log]))
    assert len(frame) == len(rows)
    expected = pd.DataFrame(rows)
    for column in ("message", "timestamp", "user", "track", "time", "latency", "recommender"):
        assert frame[column].tolist() == expected[column].tolist()
    assert frame["experiments"].tolist() == expected["experiments"].tolist()
    assert frame["recommendation"].isna().tolist() == expected["recommendation"].isna().tolist()


def test_rotated_files_are_read_oldest_first(tmp_path):
    for name, user in (("data.jsonl", 3), ("data.jsonl.1", 2), ("data.jsonl.2", 1)):
        _write(tmp_path / name, [orjson.dumps({**EVENT, "user": user})])
    assert [p.name for p in log_files([tmp_path])] == ["data.jsonl.2", "data.jsonl.1", "data.jsonl"]
    assert read_events([tmp_path])["user"].tolist() == [1, 2, 3]


def test_optional_fields_may_be_absent_and_blank_lines_are_skipped(tmp_path):
    bare = {k: v for k, v in EVENT.items() if k not in ("recommender", "recommendation")}
    log = _write(tmp_path / "data.jsonl", [orjson.dumps(EVENT), b"", b"  ", orjson.dumps(bare)])
    frame = read_events([log])
    assert len(frame) == 2
    assert frame["recommender"].isna().tolist() == [False, True]
    assert frame["recommendation"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b"{not json", "data.jsonl:3: not JSON"),
        (b"[1, 2]", "data.jsonl:3: an event must be a JSON object"),
        (orjson.dumps({k: v for k, v in EVENT.items() if k != "user"}), "data.jsonl:3: missing"),
        (orjson.dumps({**EVENT, "time": None}), "data.jsonl:3: missing field(s) time"),
    ],
    ids=["not-json", "not-object", "missing-field", "null-field"],
)
def test_bad_lines_name_file_and_line(tmp_path, bad, message):
    log = _write(tmp_path / "data.jsonl", [orjson.dumps(EVENT), orjson.dumps(EVENT), bad])
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_events([log])


def test_a_field_of_the_wrong_type_is_a_data_error(tmp_path):
    log = _write(tmp_path / "data.jsonl", [orjson.dumps({**EVENT, "user": "bob"})])
    with pytest.raises(DataError, match="wrong type"):
        read_events([log])


def test_empty_logs_are_a_data_error(tmp_path):
    log = _write(tmp_path / "data.jsonl", [b""])
    with pytest.raises(DataError, match="no events"):
        read_events([log])
    with pytest.raises(DataError, match="no such file"):
        read_events([tmp_path / "missing.jsonl"])
