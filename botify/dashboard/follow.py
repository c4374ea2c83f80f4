"""Follow a directory of event logs as it grows: the new complete lines since the last look.

Every service process writes its own series (``data.<host>.<pid>.jsonl``, rotated to ``.1``,
``.2``, ...). A rotation renames a file and keeps its content, so files are tracked by inode, not
by name: a file renamed to ``.1`` is read on from where it was left, and the new ``data...jsonl``
is a new file read from its start. A partial last line (a write in progress) is left for the next
look: the offset kept is that of the end of the last complete line.

The root may also be a Parquet export of the logs (``botify logs export``): its files are written
whole (then renamed), so each is read once, when it appears, and a new export run's files are
taken in at the next look.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from botify.events import is_log_name
from botify.export import PARQUET_SUFFIX, dataset_files, dataset_lines, is_dataset

READ_LIMIT = 16 * 1024 * 1024
"""Bytes read from one file at one look at most (``more`` tells the reader to look again), so
that a large log is taken in bounded pieces."""


@dataclass
class _Tracked:
    path: Path
    offset: int = 0
    missing: int = 0


class LogFollower:
    """The new event lines of every log file under ``root`` (its subdirectories too).

    Args:
        root: a log directory (``OUT/logs`` with a subdirectory per day works too); it may not
            exist yet.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._files: dict[tuple[int, int], _Tracked] = {}
        self.bytes_read = 0
        self.more = False

    def files(self) -> list[Path]:
        """The log files now under the root, by path."""
        found: list[Path] = []
        if is_dataset(self.root):
            return dataset_files(self.root)
        if self.root.is_file():
            return [self.root]
        for directory, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(Path(directory) / name for name in sorted(names) if is_log_name(name))
        return found

    def poll(self) -> list[bytes]:
        """The complete lines written since the last call, file by file (empty lines dropped)."""
        lines: list[bytes] = []
        self.more = False
        seen: set[tuple[int, int]] = set()
        for path in self.files():
            try:
                handle = open(path, "rb")  # noqa: SIM115 (closed below)
            except FileNotFoundError:  # rotated away or deleted between the listing and here
                continue
            with handle:
                # The inode of what was opened: a rename after the listing cannot mislead.
                status = os.fstat(handle.fileno())
                key = (status.st_dev, status.st_ino)
                seen.add(key)
                tracked = self._files.get(key)
                if tracked is None:
                    tracked = self._files[key] = _Tracked(path)
                tracked.path, tracked.missing = path, 0
                if status.st_size < tracked.offset:  # truncated: the inode is another file now
                    tracked.offset = 0
                if path.suffix == PARQUET_SUFFIX:
                    if tracked.offset == 0:
                        lines.extend(dataset_lines(path))
                        tracked.offset = status.st_size
                        self.bytes_read += status.st_size
                elif status.st_size > tracked.offset:
                    lines.extend(self._read(handle, tracked))
        for key, tracked in list(self._files.items()):
            if key not in seen:
                # Unseen a few times in a row: deleted (beyond the writer's backup count). Not at
                # once: a file renamed during the listing may be missed by one look.
                tracked.missing += 1
                if tracked.missing >= 3:
                    del self._files[key]
        return lines

    def _read(self, handle, tracked: _Tracked) -> list[bytes]:
        handle.seek(tracked.offset)
        data = handle.read(READ_LIMIT)
        self.more = self.more or len(data) == READ_LIMIT
        end = data.rfind(b"\n") + 1
        if end == 0:
            if len(data) == READ_LIMIT:  # not an event line: longer than any event can be
                tracked.offset += len(data)
            return []  # only a partial line so far
        tracked.offset += end
        self.bytes_read += end
        return [line for line in data[:end].split(b"\n") if line.strip()]
