"""Atomic file writes: a temporary file next to the target, renamed over it on success.

A reader sees the old file or the new one, never half of one: the data goes to a fresh temporary
file in the target's directory (so the rename stays on one file system), which replaces the target
in one ``os.replace`` once it is complete and closed. If writing fails, the temporary file is
removed and the target is left as it was. Parent directories are created.

Permissions: by default a new file gets what ``open`` would give it (0666 less the umask); with
``mode`` it gets exactly that mode, and the temporary file is created with it from the start (so a
private file is never readable by others, not even while it is written).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike,
    mode: str = "wb",
    *,
    permissions: int | None = None,
    encoding: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file to write ``path``'s new content; it replaces ``path`` on success.

    Args:
        path: the file to write.
        mode: ``"wb"`` or ``"w"`` (text; ``encoding`` defaults to UTF-8).
        permissions: the new file's exact mode (e.g. ``0o600``); default: 0666 less the umask.
        encoding: the text encoding, for ``mode="w"``.

    Raises:
        ValueError: ``mode`` is not a write mode.
        OSError: the directory cannot be created or written (the target is untouched).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole file: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _create_temporary(path, 0o666 if permissions is None else permissions)
    try:
        if permissions is not None:
            os.fchmod(fd, permissions)  # exactly, whatever the umask
        if mode == "w":
            file = os.fdopen(fd, "w", encoding=encoding or "utf-8")
        else:
            file = os.fdopen(fd, "wb")
        fd = -1  # owned by ``file`` now
        with file:
            yield file
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, mode: int | None = None) -> Path:
    """Replace ``path`` with ``data`` atomically; ``mode``: its exact permissions (see module)."""
    with atomic_open(path, "wb", permissions=mode) as file:
        file.write(data)
    return Path(path)


def atomic_write_text(
    path: str | os.PathLike, text: str, *, mode: int | None = None, encoding: str = "utf-8"
) -> Path:
    """Replace ``path`` with ``text`` atomically; ``mode``: its exact permissions (see module)."""
    with atomic_open(path, "w", permissions=mode, encoding=encoding) as file:
        file.write(text)
    return Path(path)


def _create_temporary(path: Path, permissions: int) -> tuple[Path, int]:
    """A new, exclusively created temporary file next to ``path`` (hidden, ``.tmp``) and its fd."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, _FLAGS, permissions)
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")
