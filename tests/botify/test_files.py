"""Atomic writes: the target is replaced whole or not at all, no temporary file is left behind."""

from __future__ import annotations

import os
import stat

import pytest

from botify.files import atomic_open, atomic_write_bytes, atomic_write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_target_is_replaced_whole(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old content, longer than the new one")
    assert atomic_write_bytes(target, b"new") == target
    assert target.read_bytes() == b"new"
    atomic_write_text(target, "caf\u00e9\n")
    assert target.read_bytes() == "caf\u00e9\n".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_parent_directories_are_created(tmp_path):
    target = tmp_path / "a" / "b" / "c.txt"
    atomic_write_text(target, "x")
    assert target.read_text() == "x"


def test_nothing_is_visible_until_the_file_is_complete(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_open(target, "w") as file:
        file.write("new")
        file.flush()
        assert target.read_text() == "old"
        (tmp,) = [p for p in tmp_path.iterdir() if p != target]
        assert tmp.name.startswith(".out.txt.") and tmp.name.endswith(".tmp")
    assert target.read_text() == "new"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("existing", [True, False])
def test_a_failure_while_writing_leaves_the_old_file_and_no_temporary(tmp_path, existing):
    target = tmp_path / "out.json"
    if existing:
        target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_open(target) as file:
            file.write(b"half of the new")
            raise RuntimeError("disk on fire")
    assert [p.name for p in tmp_path.iterdir()] == (["out.json"] if existing else [])
    if existing:
        assert target.read_bytes() == b"old"


def test_a_failing_rename_removes_the_temporary(tmp_path):
    target = tmp_path / "dir-in-the-way"
    (target / "child").mkdir(parents=True)  # os.replace cannot put a file over a non-empty dir
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["dir-in-the-way"]


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o640])
def test_mode_is_honoured_whatever_the_umask(tmp_path, mode):
    target = tmp_path / "f"
    target.write_bytes(b"old")
    os.chmod(target, 0o666)
    previous = os.umask(0o077)
    try:
        atomic_write_bytes(target, b"secret", mode=mode)
    finally:
        os.umask(previous)
    assert _mode(target) == mode
    atomic_write_text(tmp_path / "g", "x", mode=mode)
    assert _mode(tmp_path / "g") == mode


def test_a_private_file_is_private_while_it_is_written(tmp_path):
    target = tmp_path / "discovery.json"
    with atomic_open(target, "w", permissions=0o600) as file:
        (tmp,) = list(tmp_path.iterdir())
        assert _mode(tmp) == 0o600
        file.write("{}")
    assert _mode(target) == 0o600


def test_without_mode_the_umask_applies(tmp_path):
    previous = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "f", b"x")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "f") == 0o640


def test_only_whole_file_write_modes(tmp_path):
    for mode in ("a", "ab", "r", "r+b", "xb"):
        with pytest.raises(ValueError, match="whole file"):
            with atomic_open(tmp_path / "f", mode):
                pass
    assert list(tmp_path.iterdir()) == []
