"""The event log's schema and a reader for its files: every process's series, rotated ones too.

One JSON object per line, per accepted ``/next`` or ``/last`` request: the course's fields, the
``recommender`` that served it, and an ``id`` (``<source>:<seq>``, see
``botify.service.event_log``) unique to the event. Each service process writes its own file series;
readers take the directory and merge the series by timestamp.
"""

from __future__ import annotations

import gc
import glob
import heapq
import logging
import operator
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson

from botify.errors import DataError

if TYPE_CHECKING:  # pandas is loaded by the readers only, not by the service that writes the log
    import pandas as pd

log = logging.getLogger("botify.events")

MESSAGE = "message"
TIMESTAMP = "timestamp"
USER = "user"
TRACK = "track"
TIME = "time"
LATENCY = "latency"
RECOMMENDATION = "recommendation"
EXPERIMENTS = "experiments"
RECOMMENDER = "recommender"
EVENT_ID = "id"
# Set when the recommender failed and the answer is the random fallback.
FALLBACK = "fallback"
# A partial last line that a writer found after a crash is moved to ``<file>.torn``: not an event.
TORN_SUFFIX = ".torn"

REQUIRED = (MESSAGE, TIMESTAMP, USER, TRACK, TIME, LATENCY)

# The kinds of field values.
INT, NUMBER, STRING, OBJECT = "integer", "number", "string", "object"
# The fields every reader and every export of the log keeps, in column order, and their kinds (the
# ones not in REQUIRED may be missing or null): the pandas reader, the Parquet and Spark schemas
# are built from it.
FIELDS: dict[str, str] = {
    MESSAGE: STRING, TIMESTAMP: INT, USER: INT, TRACK: INT, TIME: NUMBER, LATENCY: NUMBER,
    RECOMMENDATION: INT, RECOMMENDER: STRING, EXPERIMENTS: OBJECT, EVENT_ID: STRING,
}


def log_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and directories into the log files they hold, each series oldest first.

    A directory contributes every regular file in it whose name does not start with a dot or end
    in ``.torn``; within a series ``data.h.7.jsonl.2`` comes before ``data.h.7.jsonl.1`` before
    ``data.h.7.jsonl`` (the rotation order). A path that does not exist but names a
    ``DATA_LOG_FILE`` (``log/data.jsonl``) stands for every process's series of it
    (``log/data.*.jsonl*``).

    Raises:
        DataError: a path does not exist or a directory holds no files.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [p for p in path.iterdir() if p.is_file() and is_log_name(p.name)]
            if not found:
                raise DataError(f"{path}: no log files in this directory")
            files.extend(sorted(found, key=_rotation_key))
        elif path.is_file():
            if is_log_name(path.name):
                files.append(path)
            # A file written before per-process series existed, and the series beside it.
            files.extend(p for p in _series_of(path) if p != path)
        else:
            series = _series_of(path)
            if not series:
                raise DataError(f"{path}: no such file or directory")
            files.extend(series)
    return list(dict.fromkeys(files))  # a file named twice (a directory and its file) is read once


def is_log_name(name: str) -> bool:
    """Whether a file of a log directory holds events (not a hidden file, not a ``.torn`` one)."""
    return not name.startswith(".") and not name.endswith(TORN_SUFFIX)


def _series_of(path: Path) -> list[Path]:
    """The files of every process's series of ``DATA_LOG_FILE`` = ``path``, if any."""
    suffix = path.suffix
    if not suffix or not path.parent.is_dir():
        return []
    stem = glob.escape(path.name[: -len(suffix)])
    found = [
        p for p in path.parent.glob(f"{stem}.*{suffix}*")
        if p.is_file() and is_log_name(p.name)
        and (p.name.endswith(suffix) or p.name.rpartition(".")[2].isdigit())
    ]
    return sorted(found, key=_rotation_key)


def series_name(path: Path) -> str:
    """The series a log file belongs to: its path without the rotation number (``.1``, ...)."""
    return str(path.parent / _rotation_key(path)[0])


def rotation_order(path: Path) -> int:
    """Where a file comes in its series: ``.2`` before ``.1`` before the current file (0)."""
    return _rotation_key(path)[1]


def _rotation_key(path: Path) -> tuple[str, int]:
    stem, _, suffix = path.name.rpartition(".")
    if stem and suffix.isdigit():
        return stem, -int(suffix)
    return path.name, 0


def _event_lines(file: Path) -> list[bytes]:
    """The lines of a log file; a partial last line (no newline, not an event) is set aside.

    A writer ends every event with a newline, so an unterminated last line that does not parse is
    a write cut short (a crash, a full disk) or one still being written: it is reported once and
    skipped, never taken for an event.
    """
    with open(file, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    if lines and lines[-1].strip():
        try:
            checked_event(file, len(lines), lines[-1])
        except DataError:
            log.warning("%s: partial last line (%d bytes) set aside", file, len(lines[-1]))
            lines.pop()
    return lines


def iter_events(paths: Iterable[str | os.PathLike]) -> Iterator[dict]:
    """Every event of the given files, the series merged in timestamp order.

    Raises:
        DataError: a line is not a JSON object or lacks a required field (names file and line).
    """
    series: dict[str, list[Path]] = {}
    for file in log_files(paths):
        series.setdefault(series_name(file), []).append(file)
    ordered = (sorted(files, key=_rotation_key) for files in series.values())
    by_time = operator.itemgetter(TIMESTAMP)
    yield from heapq.merge(*map(_series_events, ordered), key=by_time)


def _series_events(files: list[Path]) -> Iterator[dict]:
    for file in files:
        for number, line in enumerate(_event_lines(file), 1):
            if line.strip():
                yield checked_event(file, number, line)


def audit(ids: Iterable[str | None]) -> dict[str, int]:
    """Gaps and duplicates among event ids (``<source>:<seq>``).

    Args:
        ids: the ``id`` column of an event log (None for events written before ids existed).

    Returns:
        ``events``, ``sources`` (writing processes), ``duplicates`` (events whose id was seen
        before), ``gaps`` (sequence numbers missing between a source's first and last event seen)
        and ``without_id``.

    Raises:
        DataError: an id is not of the form ``<source>:<seq>``.
    """
    seen: dict[str, set[int]] = {}
    counts = {"events": 0, "sources": 0, "duplicates": 0, "gaps": 0, "without_id": 0}
    for event_id in ids:
        counts["events"] += 1
        if event_id is None:
            counts["without_id"] += 1
            continue
        source, _, seq = str(event_id).rpartition(":")
        if not source or not seq.isdigit():
            raise DataError(f"event id {event_id!r} is not <source>:<sequence number>")
        numbers = seen.setdefault(source, set())
        number = int(seq)
        if number in numbers:
            counts["duplicates"] += 1
        numbers.add(number)
    counts["sources"] = len(seen)
    counts["gaps"] = sum(max(n) - min(n) + 1 - len(n) for n in seen.values())
    return counts


_CHUNK_LINES = 200_000
_COLUMNS = tuple(FIELDS)
_GET_COLUMNS = operator.itemgetter(*_COLUMNS)


def read_events(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Load event logs into a DataFrame.

    Files are parsed a chunk of lines at a time with the garbage collector paused (millions of
    small dicts otherwise trigger it over and over, tripling the time); a malformed chunk is
    re-read line by line to name the offending file and line.

    A path may also be a Parquet export of logs (``botify logs export``, :mod:`botify.export`) or
    one of its files: its events come back exactly as the JSONL they were exported from.

    Returns:
        Columns ``message, timestamp, user, track, time, latency, recommendation, recommender,
        experiments, id`` (experiments a column of dicts; id missing in logs written before ids),
        in timestamp order (stable: events of one millisecond keep their order in the files).

    Raises:
        DataError: malformed lines (see :func:`iter_events`), a field of the wrong type, or no
            events at all.
    """
    from botify.export import is_dataset, read_dataset_columns

    paths = list(paths)
    datasets = [path for path in paths if is_dataset(path)]
    enabled = gc.isenabled()
    gc.disable()
    try:
        logs = [path for path in paths if path not in datasets]
        columns = _read_columns(log_files(logs))
        if datasets:
            for key, values in read_dataset_columns(datasets).items():
                columns[key].extend(values)
        if not columns[MESSAGE]:
            raise DataError("the event logs hold no events")
        frame = _frame(columns)
        timestamps = frame[TIMESTAMP].to_numpy()
        if len(timestamps) > 1 and (np.diff(timestamps) < 0).any():
            frame = frame.sort_values(TIMESTAMP, kind="stable", ignore_index=True)
        return frame
    finally:
        if enabled:
            gc.enable()


def _read_columns(files: list[Path]) -> dict[str, list]:
    columns: dict[str, list] = {key: [] for key in _COLUMNS}
    for file in files:
        lines = _event_lines(file)
        for begin in range(0, len(lines), _CHUNK_LINES):
            chunk = lines[begin : begin + _CHUNK_LINES]
            parsed = _parse_chunk(chunk)
            if parsed is None:
                _raise_first_error(file, chunk, first_line=begin + 1)
            for key, values in zip(_COLUMNS, parsed, strict=True):
                columns[key].extend(values)
    return columns


def _parse_chunk(lines: list[bytes]) -> list[tuple] | None:
    """The columns (in ``_COLUMNS`` order) of a chunk of lines, or None when one is malformed."""
    try:
        events = list(map(orjson.loads, filter(None, lines)))
    except orjson.JSONDecodeError:
        try:  # lines of mere whitespace are allowed: the slower filter that skips them
            events = list(map(orjson.loads, (line for line in lines if line.strip())))
        except orjson.JSONDecodeError:
            return None
    if not events:
        return [() for _ in _COLUMNS]
    try:
        columns = list(zip(*map(_GET_COLUMNS, events), strict=True))
    except KeyError:
        try:  # an optional field is absent somewhere: the slower lookup that tolerates it
            columns = [tuple(event.get(key) for event in events) for key in _COLUMNS]
        except AttributeError:
            return None
    except TypeError:  # a line holds valid JSON that is not an object
        return None
    for key, values in zip(_COLUMNS, columns, strict=True):
        if key in REQUIRED and None in values:
            return None
    return columns


def checked_event(file: Path, number: int, line: bytes) -> dict:
    """The event on line ``number`` of ``file``.

    Raises:
        DataError: the line is not a JSON object or a required field is missing or null.
    """
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise DataError(f"{file}:{number}: not JSON ({exc})") from None
    if not isinstance(event, dict):
        raise DataError(f"{file}:{number}: an event must be a JSON object")
    missing = [key for key in REQUIRED if event.get(key) is None]
    if missing:
        raise DataError(f"{file}:{number}: missing field(s) {', '.join(missing)}")
    return event


def _raise_first_error(file: Path, lines: list[bytes], first_line: int) -> None:
    """Raise the DataError of the first malformed line (``lines`` numbered from ``first_line``)."""
    for number, line in enumerate(lines, first_line):
        if line.strip():
            checked_event(file, number, line)
    raise DataError(f"{file}: malformed events")  # unreachable unless the two checks disagree


def _frame(columns: dict[str, list]) -> pd.DataFrame:
    import pandas as pd

    def column(name: str, values: list):
        kind = FIELDS[name]
        if kind == STRING:
            return pd.Series(values, dtype="string")
        if kind == NUMBER:
            return np.asarray(values, dtype=np.float64)
        if kind == INT and name in REQUIRED:
            return np.asarray(values, dtype=np.int64)
        if kind == INT:  # nullable
            numbers = np.asarray(values, dtype=np.float64)
            missing = np.isnan(numbers)
            numbers[missing] = 0
            return pd.arrays.IntegerArray(numbers.astype(np.int64), missing)
        return values

    try:
        return pd.DataFrame({name: column(name, columns[name]) for name in FIELDS})
    except (TypeError, ValueError) as exc:
        raise DataError(f"the event logs hold a field of the wrong type: {exc}") from None
