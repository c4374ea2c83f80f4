"""The event log's schema and a reader for its files (rotated ones included).

One JSON object per line, per accepted ``/next`` or ``/last`` request (SPEC section 4), plus the
``recommender`` that served it.
"""

from __future__ import annotations

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
                if not line.strip():
                    continue
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise DataError(f"{file}:{number}: not JSON ({exc})") from None
                if not isinstance(event, dict):
                    raise DataError(f"{file}:{number}: an event must be a JSON object")
                missing = [key for key in REQUIRED if key not in event]
                if missing:
                    raise DataError(f"{file}:{number}: missing field(s) {', '.join(missing)}")
                yield event


def read_events(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Load event logs into a DataFrame.

    Returns:
        Columns ``message, timestamp, user, track, time, latency, recommendation, recommender,
        experiments`` (the last a column of dicts), in file order.

    Raises:
        DataError: malformed lines (see :func:`iter_events`) or no events at all.
    """
    columns: dict[str, list] = {key: [] for key in (*REQUIRED, RECOMMENDATION, RECOMMENDER, EXPERIMENTS)}
    for event in iter_events(paths):
        for key, values in columns.items():
            values.append(event.get(key))
    if not columns[MESSAGE]:
        raise DataError("the event logs hold no events")
    try:
        frame = pd.DataFrame(
            {
                MESSAGE: pd.Series(columns[MESSAGE], dtype="string"),
                TIMESTAMP: np.asarray(columns[TIMESTAMP], dtype=np.int64),
                USER: np.asarray(columns[USER], dtype=np.int64),
                TRACK: np.asarray(columns[TRACK], dtype=np.int64),
                TIME: np.asarray(columns[TIME], dtype=np.float64),
                LATENCY: np.asarray(columns[LATENCY], dtype=np.float64),
                RECOMMENDATION: pd.array(columns[RECOMMENDATION], dtype="Int64"),
                RECOMMENDER: pd.Series(columns[RECOMMENDER], dtype="string"),
                EXPERIMENTS: columns[EXPERIMENTS],
            }
        )
    except (TypeError, ValueError) as exc:
        raise DataError(f"the event logs hold a field of the wrong type: {exc}") from None
    return frame
