"""The event log writer: one series per process, whole lines, nothing lost on close or rotation."""

import json
import multiprocessing
import os

import pytest

from botify.events import audit, iter_events, read_events
from botify.service.event_log import EventLog


def event(i):
    return {"message": "next", "timestamp": 1_700_000_000_000 + i, "user": i, "track": i,
            "time": 0.5, "latency": 0.001, "recommendation": i + 1,
            "experiments": {"AA": "C"}, "recommender": "random"}


def test_rotates_its_own_series_and_loses_nothing(tmp_path):
    log = EventLog(tmp_path / "log" / "data.jsonl", max_bytes=2_000, backup_count=100)
    for i in range(500):
        log.write(event(i))
    log.close()
    assert log.path.name == f"data.{log.path.name.split('.')[1]}.{os.getpid()}.jsonl"
    files = sorted((tmp_path / "log").iterdir())
    assert len(files) > 10 and all(f.name.startswith(log.path.name) for f in files)
    assert max(f.stat().st_size for f in files) <= 2_000
    frame = read_events([tmp_path / "log"])
    assert list(frame["user"]) == list(range(500))
    assert audit(frame["id"]) == {"events": 500, "sources": 1, "duplicates": 0, "gaps": 0,
                                  "without_id": 0}
    # The configured file name stands for every process's series of it.
    assert len(read_events([tmp_path / "log" / "data.jsonl"])) == 500


def test_backup_count_keeps_the_newest(tmp_path):
    log = EventLog(tmp_path / "data.jsonl", max_bytes=1_000, backup_count=3)
    for i in range(200):
        log.write(event(i))
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([log.path.name] + [f"{log.path.name}.{n}" for n in (1, 2, 3)])
    users = list(read_events([tmp_path])["user"])
    assert users == list(range(200 - len(users), 200))  # the newest events, contiguous


def _write_many(path, offset, count):
    log = EventLog(path, max_bytes=3_000, backup_count=0)
    for i in range(count):
        log.write(event(offset + 2 * i))
    log.close()


def test_processes_sharing_a_directory_never_race(tmp_path):
    """Two writers rotating under one DATA_LOG_FILE: every event read back, in timestamp order."""
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(tmp_path / "data.jsonl", k, 300))
               for k in (0, 1)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
        assert writer.exitcode == 0
    frame = read_events([tmp_path])
    assert sorted(frame["user"]) == list(range(600))
    assert list(frame["timestamp"]) == sorted(frame["timestamp"])
    assert audit(frame["id"])["sources"] == 2 and audit(frame["id"])["gaps"] == 0
    assert [e["user"] for e in iter_events([tmp_path])] == list(range(600))


def test_audit_finds_gaps_and_duplicates():
    ids = ["a.1.f:1", "a.1.f:2", "a.1.f:2", "a.1.f:5", "b.2.f:1", None]
    assert audit(ids) == {"events": 6, "sources": 2, "duplicates": 1, "gaps": 2, "without_id": 1}


def test_a_torn_last_line_is_set_aside_when_the_series_is_reopened(tmp_path):
    """A crash mid-write left a partial line; the process that reopens the series moves it out."""
    log = EventLog(tmp_path / "data.jsonl")
    log.write(event(0))
    log.close()
    with open(log.path, "ab") as handle:
        handle.write(b'{"message": "next", "timest')
    again = EventLog(tmp_path / "data.jsonl")
    assert again.path == log.path
    again.write(event(1))
    again.close()
    assert (tmp_path / f"{log.path.name}.torn").read_bytes() == b'{"message": "next", "timest\n'
    assert list(read_events([tmp_path])["user"]) == [0, 1]


def test_readers_set_aside_a_partial_last_line(tmp_path, caplog):
    log = EventLog(tmp_path / "data.jsonl")
    log.write(event(0))
    log.close()
    with open(log.path, "ab") as handle:
        handle.write(b'{"message": "ne')
    assert list(read_events([tmp_path])["user"]) == [0]
    assert [e["user"] for e in iter_events([tmp_path])] == [0]
    assert "partial last line" in caplog.text


def _write_through_a_full_disk(path, results):
    """In a child process: a file size limit makes writes fail (EFBIG, short writes) as a full
    disk does; then the limit is lifted."""
    import resource

    from botify.service.event_log import EventLogUnavailable

    log = EventLog(path, pending_max=20, retry_seconds=0)
    log.write(event(0))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (log.path.stat().st_size + 300, hard))
    for i in range(1, 25):
        log.write(event(i))
    held = log.state()
    try:
        log.check_accepting()
        refused = False
    except EventLogUnavailable:
        refused = True
    torn = not log.path.read_bytes().endswith(b"\n")
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    log.check_accepting()
    recovered = log.state()
    log.write(event(25))
    log.close()
    results.put((held.written, held.pending, bool(held.error), refused, torn,
                 recovered.pending, recovered.error))


def test_a_failed_write_is_held_cut_clean_and_retried_in_order(tmp_path):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_write_through_a_full_disk, args=(tmp_path / "d.jsonl", results))
    child.start()
    written, pending, failing, refused, torn, pending_after, error_after = results.get(timeout=30)
    child.join(30)
    assert 1 < written < 25 and pending == 25 - written and failing
    assert refused  # 20 or more held: the log refuses more
    assert not torn  # the short write that hit the limit was cut off again
    assert pending_after == 0 and error_after is None
    assert list(read_events([tmp_path])["user"]) == list(range(26))


def test_readers_find_the_series_beside_an_older_single_file(tmp_path, caplog):
    """DATA_LOG_FILE itself (a file an older writer left) stands for the series beside it too;
    files given one by one are read in rotation order, .torn files never."""
    legacy = tmp_path / "data.jsonl"
    legacy.write_text(json.dumps(event(0)) + "\n")
    log = EventLog(legacy, max_bytes=600)
    for i in range(1, 8):
        log.write(event(i))
    log.close()
    (tmp_path / f"{log.path.name}.torn").write_text("{not json\n")
    assert list(read_events([legacy])["user"]) == list(range(8))
    given = sorted(tmp_path.iterdir(), key=lambda p: p.name)  # newest rotation first, .torn too
    assert [e["user"] for e in iter_events(given)] == list(range(8))
    assert len(read_events([tmp_path, legacy])) == 8  # a file named twice is read once


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"DATA_LOG_FILE": "log/data"}, "must be a file name with a suffix"),
        ({"DATA_LOG_PENDING_MAX": 0}, "DATA_LOG_PENDING_MAX must be an integer of at least 1"),
        ({"DATA_LOG_MAX_BYTES": "100MB"}, "DATA_LOG_MAX_BYTES must be an integer"),
        ({"DATA_LOG_BACKUP_COUNT": -1}, "DATA_LOG_BACKUP_COUNT must be an integer of at least 0"),
    ],
    ids=["no-suffix", "pending-zero", "max-bytes-text", "backups-negative"],
)
def test_bad_event_log_settings_are_one_message_at_start(tmp_path, settings, message):
    from botify.errors import ConfigError
    from botify.service.event_log import check_settings

    config = {"DATA_LOG_FILE": str(tmp_path / "log" / "data.jsonl"), **settings}
    with pytest.raises(ConfigError, match=message):
        check_settings(config)
