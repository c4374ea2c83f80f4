"""``botify logs export``: the service's JSONL event logs into a Parquet dataset, incrementally.

The sources are log files or directories, as every reader takes them (each process's series,
rotated files included, :func:`botify.events.log_files`); several instances' directories are
gathered into one dataset. The dataset directory holds::

    date=2026-12-02/part-00001-0.parquet   the events of that day (UTC): run 1, its first 500,000
    manifest.json                          what was read, and the event ids exported

Every complete line is validated: a malformed one is reported with its file and line, counted in
the manifest and skipped, never exported and never silently dropped. An event whose id
(``<source>:<seq>``) was exported before (the same file named twice, a replayed log) is counted as
a duplicate and skipped; the manifest keeps each source's exported sequence numbers as intervals.

Running it again reads only what is new. For each file the manifest keeps how far it was read
(``offset``, always the end of a complete line: a line still being written waits for the next run),
the file's size then and the SHA-256 of the bytes up to the offset; a file resumes from the entry
whose bytes it still starts with, so a rotated file (renamed to ``.1``) is recognized under its new
name and the new file at the old name starts from 0. Partitions are written to a temporary name and
renamed, then the manifest is replaced: an interrupted run leaves no partial partition, and a run
interrupted between its partitions and its manifest is repaired by the next one. That one has the
same run number and starts from the same offsets, so it writes the same file names again, each
with at least what the interrupted run had put there.
"""

from __future__ import annotations

import argparse
import bisect
import datetime
import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from botify.errors import DataError
from botify.events import (
    EVENT_ID,
    EXPERIMENTS,
    FIELDS,
    INT,
    NUMBER,
    OBJECT,
    STRING,
    TIMESTAMP,
    checked_event,
    log_files,
    series_name,
)
from botify.files import atomic_write_text

MANIFEST = "manifest.json"
PARTITION = "date"
PARQUET_SUFFIX = ".parquet"
# Events held in memory before they are written out (one more file per partition each time).
FLUSH_EVENTS = 500_000
# Malformed lines named in the command's output (all are counted).
SHOWN_ERRORS = 20
# Whether a JSON value is of a kind (a bool is not a number, though Python's bool is an int).
_IS_KIND = {
    INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
    NUMBER: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    STRING: lambda v: isinstance(v, str),
    OBJECT: lambda v: isinstance(v, dict),
}


def _schema():
    """The dataset's columns: the log's fields (an object as its JSON text, as the log has it)."""
    import pyarrow as pa

    types = {INT: pa.int64(), NUMBER: pa.float64(), STRING: pa.string(), OBJECT: pa.string()}
    return pa.schema([(name, types[kind]) for name, kind in FIELDS.items()])


@dataclass
class Export:
    """What one run did."""

    files: int = 0
    read_bytes: int = 0
    events: int = 0
    duplicates: int = 0
    without_id: int = 0
    malformed: list[str] = field(default_factory=list)
    partitions: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        """The run in a few lines, as the command prints it."""
        lines = [
            f"read {self.read_bytes:,} new bytes of {self.files} file(s): {self.events:,} events "
            f"exported, {self.duplicates:,} duplicate(s) skipped, {len(self.malformed):,} "
            f"malformed line(s) skipped"
            + (f", {self.without_id:,} without an id (not deduplicated)"
               if self.without_id else ""),
        ]
        lines += [f"  {error}" for error in self.malformed[:SHOWN_ERRORS]]
        if len(self.malformed) > SHOWN_ERRORS:
            lines.append(f"  ... and {len(self.malformed) - SHOWN_ERRORS} more")
        lines += [f"wrote {path}" for path in self.partitions]
        return "\n".join(lines)


def _typed(file: Path, number: int, line: bytes) -> dict[str, Any]:
    """The event on a line, its fields checked against the dataset's types.

    Raises:
        DataError: naming the file and line.
    """
    event = checked_event(file, number, line)  # the required fields are there and not null
    for key, kind in FIELDS.items():
        value = event.get(key)
        if value is not None and not _IS_KIND[kind](value):
            article = "an" if kind[0] in "aeiou" else "a"
            raise DataError(f"{file}:{number}: {key} must be {article} {kind}, got {value!r}")
    return event


class _Ids:
    """Each source's exported sequence numbers: merged intervals from earlier runs, a set for this
    one."""

    def __init__(self, intervals: dict[str, list[list[int]]]) -> None:
        self.intervals = {source: sorted(map(tuple, spans)) for source, spans in intervals.items()}
        self.new: dict[str, set[int]] = {}

    def add(self, event_id: str) -> bool:
        """Whether ``event_id`` is new (and now taken); ids of another form count as new."""
        source, _, seq = event_id.rpartition(":")
        if not source or not seq.isdigit():
            return True
        number = int(seq)
        spans = self.intervals.get(source, [])
        at = bisect.bisect_right(spans, (number, float("inf"))) - 1
        if at >= 0 and spans[at][0] <= number <= spans[at][1]:
            return False
        taken = self.new.setdefault(source, set())
        if number in taken:
            return False
        taken.add(number)
        return True

    def merged(self) -> dict[str, list[list[int]]]:
        """Every source's sequence numbers, earlier and new, as merged intervals."""
        out: dict[str, list[list[int]]] = {}
        for source in sorted({*self.intervals, *self.new}):
            spans = sorted([*self.intervals.get(source, []),
                            *((n, n) for n in self.new.get(source, ()))])
            joined: list[list[int]] = []
            for lo, hi in spans:
                if joined and lo <= joined[-1][1] + 1:
                    joined[-1][1] = max(joined[-1][1], hi)
                else:
                    joined.append([lo, hi])
            out[source] = joined
        return out


def read_manifest(to: Path) -> dict[str, Any]:
    """The dataset's manifest (an empty one for a new dataset).

    Raises:
        DataError: the manifest is not a JSON object of the expected shape.
    """
    path = to / MANIFEST
    if not path.exists():
        return {"runs": 0, "files": {}, "ids": {}, "events": 0, "malformed": 0, "duplicates": 0}
    try:
        manifest = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable manifest ({exc})") from None
    if not isinstance(manifest, dict) or not {"runs", "files", "ids"} <= set(manifest):
        raise DataError(f"{path}: not a botify export manifest")
    return manifest


def _resume(entries: dict[str, dict], file: Path, data: bytes, taken: set[str]):
    """The manifest entry this file continues, as ``(name, entry, hash of the bytes read)``: its
    own path's first, else one of its series whose bytes it starts with (a rotated file under its
    new name); None for a new file."""
    series = series_name(file)
    names = [str(file), *(name for name in entries
                          if name != str(file) and series_name(Path(name)) == series)]
    for name in names:
        entry = entries.get(name)
        if entry is None or name in taken or entry["offset"] == 0 or entry["offset"] > len(data):
            continue
        digest = hashlib.sha256(data[: entry["offset"]])
        if digest.hexdigest() == entry["sha256"]:
            return name, entry, digest
    return None


def export_logs(sources: Iterable[str | os.PathLike], to: str | os.PathLike) -> Export:
    """Export what is new in the logs ``sources`` into the dataset ``to`` (see the module).

    Raises:
        DataError: no log files in the sources, or a broken manifest.
    """
    to = Path(to)
    files = log_files(sources)
    manifest = read_manifest(to)
    run = int(manifest["runs"]) + 1
    ids = _Ids(manifest.get("ids", {}))
    entries: dict[str, dict] = {}
    taken: set[str] = set()
    result = Export(files=len(files))
    rows: dict[str, list[dict]] = {}
    flushes = 0

    def flush() -> None:
        nonlocal flushes
        for day, events in sorted(rows.items()):
            result.partitions.append(_write_partition(to / f"{PARTITION}={day}", events,
                                                      f"part-{run:05d}-{flushes}"))
        rows.clear()
        flushes += 1

    for file in files:
        data = file.read_bytes()
        resumed = _resume(manifest["files"], file, data, taken)
        if resumed is None:
            offset, number, digest = 0, 0, hashlib.sha256()
        else:
            name, entry, digest = resumed
            taken.add(name)
            offset, number = entry["offset"], entry["lines"]
        end = data.rfind(b"\n", offset) + 1 or offset  # complete lines only
        digest.update(data[offset:end])
        result.read_bytes += end - offset
        for line in data[offset:end].split(b"\n")[:-1]:
            number += 1
            if not line.strip():
                continue
            try:
                event = _typed(file, number, line)
            except DataError as exc:
                result.malformed.append(str(exc))
                continue
            event_id = event.get(EVENT_ID)
            if event_id is None:
                result.without_id += 1
            elif not ids.add(event_id):
                result.duplicates += 1
                continue
            day = datetime.datetime.fromtimestamp(event[TIMESTAMP] / 1000, datetime.UTC).date()
            rows.setdefault(day.isoformat(), []).append(event)
            result.events += 1
            if result.events % FLUSH_EVENTS == 0:
                flush()
        entries[str(file)] = {"size": len(data), "offset": end, "lines": number,
                              "sha256": digest.hexdigest()}
    flush()
    kept = {name: entry for name, entry in manifest["files"].items() if name not in taken}
    manifest.update(
        runs=run, files={**kept, **entries}, ids=ids.merged(),
        events=int(manifest.get("events", 0)) + result.events,
        malformed=int(manifest.get("malformed", 0)) + len(result.malformed),
        duplicates=int(manifest.get("duplicates", 0)) + result.duplicates,
    )
    to.mkdir(parents=True, exist_ok=True)
    atomic_write_text(to / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2).decode())
    return result


def _write_partition(directory: Path, events: list[dict], name: str) -> Path:
    """Write ``events`` as ``directory/name.parquet``: a temporary file, then renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema()
    columns = {key: [event.get(key) for event in events] for key in schema.names}
    columns[EXPERIMENTS] = [None if value is None else orjson.dumps(value).decode()
                            for value in columns[EXPERIMENTS]]
    table = pa.Table.from_pydict(columns, schema=schema)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{name}{PARQUET_SUFFIX}"
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".part-", suffix=".tmp")
    os.close(handle)
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return final


def is_dataset(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an export (a directory with a manifest) or a Parquet file."""
    path = Path(path)
    return (path.is_dir() and (path / MANIFEST).is_file()) or (
        path.is_file() and path.suffix == PARQUET_SUFFIX)


def dataset_files(path: str | os.PathLike) -> list[Path]:
    """The Parquet files of a dataset (or the file itself), in partition and run order."""
    path = Path(path)
    if path.is_file():
        return [path]
    return sorted(p for p in path.glob(f"{PARTITION}=*/*{PARQUET_SUFFIX}")
                  if not p.name.startswith("."))


def read_dataset_columns(paths: Iterable[str | os.PathLike]) -> dict[str, list]:
    """The events of Parquet datasets as the JSONL reader's columns (experiments as dicts).

    Raises:
        DataError: a file is not readable Parquet or lacks a column of the events.
    """
    import pyarrow.parquet as pq

    columns: dict[str, list] = {name: [] for name in _schema().names}
    for path in paths:
        for file in dataset_files(path):
            try:
                table = pq.read_table(file, columns=list(columns))
            except (OSError, ValueError, KeyError) as exc:
                raise DataError(f"{file}: not a Parquet file of events ({exc})") from None
            for name in columns:
                values = table.column(name).to_pylist()
                if name == EXPERIMENTS:
                    values = [None if v is None else orjson.loads(v) for v in values]
                columns[name].extend(values)
    return columns


def dataset_lines(file: str | os.PathLike) -> list[bytes]:
    """The events of one Parquet file of a dataset as the log's JSON lines (no newline).

    Raises:
        DataError: the file is not readable Parquet of events.
    """
    columns = read_dataset_columns([file])
    names = list(columns)
    return [orjson.dumps({k: v for k, v in zip(names, row, strict=True) if v is not None})
            for row in zip(*columns.values(), strict=True)]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``logs export``."""
    logs = subparsers.add_parser("logs", help="work with the event logs",
                                 description="Work with the event logs.")
    what = logs.add_subparsers(dest="what", required=True, metavar="WHAT")
    export = what.add_parser(
        "export", help="export the JSONL logs to Parquet, incrementally",
        description=__doc__.split("\n\n")[0].removeprefix("``botify logs export``: "),
    )
    export.add_argument("sources", nargs="+", metavar="SRC",
                        help="log files or directories (every process's series, rotated files too)")
    export.add_argument("--to", required=True, type=Path, help="the dataset directory")
    export.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Handler of ``botify logs export``."""
    result = export_logs(args.sources, args.to)
    print(result.describe())
    return 0
