"""The event log's schema and a reader for its files (rotated ones included).

One JSON object per line, per accepted ``/next`` or ``/last`` request (SPEC section 4), plus the
``recommender`` that served it.
"""

from __future__ import annotations

import gc
import operator
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from botify.errors import DataError

MESSAGE = "message"
TIMESTAMP = "timestamp"
USER = "user"
TRACK = "track"
TIME = "time"
LATENCY = "latency"
RECOMMENDATION = "recommendation"
EXPERIMENTS = "experiments"
RECOMMENDER = "recommender"

REQUIRED = (MESSAGE, TIMESTAMP, USER, TRACK, TIME, LATENCY)


def log_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and directories into the log files they hold, oldest rotation first.

    A directory contributes every regular file in it whose name does not start with a dot;
    ``data.jsonl.2`` comes before ``data.jsonl.1`` before ``data.jsonl`` (the rotation order).

    Raises:
        DataError: a path does not exist or a directory holds no files.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
            if not found:
                raise DataError(f"{path}: no log files in this directory")
            files.extend(sorted(found, key=_rotation_key))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or directory")
    return files


def _rotation_key(path: Path) -> tuple[str, int]:
    stem, _, suffix = path.name.rpartition(".")
    if stem and suffix.isdigit():
        return stem, -int(suffix)
    return path.name, 0


def iter_events(paths: Iterable[str | os.PathLike]) -> Iterator[dict]:
    """Every event of the given files, in file order.

    Raises:
        DataError: a line is not a JSON object or lacks a required field (names file and line).
    """
    for file in log_files(paths):
        with open(file, "rb") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield _checked_event(file, number, line)


_CHUNK_LINES = 200_000
_COLUMNS = (*REQUIRED, RECOMMENDATION, RECOMMENDER, EXPERIMENTS)
_GET_COLUMNS = operator.itemgetter(*_COLUMNS)


def read_events(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Load event logs into a DataFrame.

    Files are parsed a chunk of lines at a time with the garbage collector paused (millions of
    small dicts otherwise trigger it over and over, tripling the time); a malformed chunk is
    re-read line by line to name the offending file and line.

    Returns:
        Columns ``message, timestamp, user, track, time, latency, recommendation, recommender,
        experiments`` (the last a column of dicts), in file order.

    Raises:
        DataError: malformed lines (see :func:`iter_events`), a field of the wrong type, or no
            events at all.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        columns = _read_columns(log_files(paths))
        if not columns[MESSAGE]:
            raise DataError("the event logs hold no events")
        return _frame(columns)
    finally:
        if enabled:
            gc.enable()


def _read_columns(files: list[Path]) -> dict[str, list]:
    columns: dict[str, list] = {key: [] for key in _COLUMNS}
    for file in files:
        with open(file, "rb") as handle:
            lines = handle.read().split(b"\n")
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


def _checked_event(file: Path, number: int, line: bytes) -> dict:
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
            _checked_event(file, number, line)
    raise DataError(f"{file}: malformed events")  # unreachable unless the two checks disagree


def _frame(columns: dict[str, list]) -> pd.DataFrame:
    try:
        recommendation = np.asarray(columns[RECOMMENDATION], dtype=np.float64)
        missing = np.isnan(recommendation)
        recommendation[missing] = 0
        return pd.DataFrame(
            {
                MESSAGE: pd.Series(columns[MESSAGE], dtype="string"),
                TIMESTAMP: np.asarray(columns[TIMESTAMP], dtype=np.int64),
                USER: np.asarray(columns[USER], dtype=np.int64),
                TRACK: np.asarray(columns[TRACK], dtype=np.int64),
                TIME: np.asarray(columns[TIME], dtype=np.float64),
                LATENCY: np.asarray(columns[LATENCY], dtype=np.float64),
                RECOMMENDATION: pd.arrays.IntegerArray(recommendation.astype(np.int64), missing),
                RECOMMENDER: pd.Series(columns[RECOMMENDER], dtype="string"),
                EXPERIMENTS: columns[EXPERIMENTS],
            }
        )
    except (TypeError, ValueError) as exc:
        raise DataError(f"the event logs hold a field of the wrong type: {exc}") from None
