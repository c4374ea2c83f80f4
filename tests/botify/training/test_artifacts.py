"""Artifacts in the frozen formats, written atomically."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import RankedTracks, RecommendationLists, write_jsonl


def _lines(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_formats(tmp_path):
    ranking = RankedTracks(np.array([5, 3]), np.array([2.5, 1.0]))
    per_track = RecommendationLists(
        PER_TRACK, np.array([1]), [np.array([2, 3])], [np.array([0.9, 0.25])]
    )
    per_user = RecommendationLists(PER_USER, np.array([7]), [np.array([4, 1])])
    assert _lines(write_jsonl(tmp_path / "r.jsonl", ranking.records())) == [
        {"track": 5, "score": 2.5},
        {"track": 3, "score": 1.0},
    ]
    assert _lines(write_jsonl(tmp_path / "t.jsonl", per_track.records())) == [
        {"track": 1, "recommendations": [2, 3], "weights": [0.9, 0.25]}
    ]
    assert _lines(write_jsonl(tmp_path / "u.jsonl", per_user.records())) == [
        {"user": 7, "tracks": [4, 1]}
    ]


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"user": 1, "tracks": [1]}])
    before = path.read_bytes()

    def broken():
        yield {"user": 2, "tracks": [2]}
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_jsonl(path, broken())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.jsonl"]
