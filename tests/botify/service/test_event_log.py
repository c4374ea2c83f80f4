"""The event log writer: off the request path, rotating, and nothing lost on close."""

from botify.events import read_events
from botify.service.event_log import EventLog


def event(i):
    return {"message": "next", "timestamp": 1_700_000_000_000 + i, "user": i, "track": i,
            "time": 0.5, "latency": 0.001, "recommendation": i + 1,
            "experiments": {"AA": "C"}, "recommender": "random"}


def test_rotates_and_loses_nothing(tmp_path):
    log = EventLog(tmp_path / "log" / "data.jsonl", max_bytes=2_000, backup_count=100)
    for i in range(500):
        log.write(event(i))
    log.close()
    files = sorted(p.name for p in (tmp_path / "log").iterdir())
    assert "data.jsonl" in files and "data.jsonl.1" in files and len(files) > 10
    frame = read_events([tmp_path / "log"])
    # Rotation order (oldest file first) keeps the write order.
    assert list(frame["user"]) == list(range(500))


def test_close_is_idempotent(tmp_path):
    log = EventLog(tmp_path / "data.jsonl")
    log.write(event(1))
    log.close()
    log.close()
    assert log.closed
    assert len((tmp_path / "data.jsonl").read_text().splitlines()) == 1
