"""What the models produce, and its JSONL artifacts in the frozen formats, written atomically.

Formats (loaded by ``botify load recs NAME FILE``):

- ranking: ``{"track": int, "score": float}`` per line, in descending score order;
- per-track: ``{"track": int, "recommendations": [int, ...], "weights": [float, ...]}`` (weights
  optional);
- per-user: ``{"user": int, "tracks": [int, ...]}`` in relevance order;
- embeddings: ``OUT/<name>.npy``, a 2-D float32 array whose row ``t`` is track ``t``'s vector (zeros
  for a track the model has none for), for recommenders that score at request time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

import numpy as np
import orjson

from botify.errors import DataError
from botify.files import atomic_open
from botify.store.artifacts import PER_TRACK, PER_USER, RANKING
from botify.store.embeddings import EMBEDDINGS, read_embeddings  # noqa: F401 (read here too)
from botify.store.embeddings import SUFFIX as NPY_SUFFIX

JSONL_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class RankedTracks:
    """Tracks in descending score order (an artifact of kind ``ranking``)."""

    tracks: np.ndarray
    scores: np.ndarray

    kind: ClassVar[str] = RANKING

    def __len__(self) -> int:
        return len(self.tracks)

    def records(self) -> Iterator[dict]:
        """The artifact's lines."""
        for track, score in zip(self.tracks.tolist(), self.scores.tolist(), strict=True):
            yield {"track": track, "score": score}


@dataclass(frozen=True)
class RecommendationLists:
    """An ordered list of tracks per key: a track (item-to-item models) or a user (per-user ones).

    Attributes:
        kind: ``PER_TRACK`` or ``PER_USER`` (``"per_track"``, ``"per_user"``): what the keys are.
        keys: the key ids.
        items: for each key, the recommended track ids, best first.
        weights: for each key, one weight per recommendation (such as a predicted time), or None.
    """

    kind: str
    keys: np.ndarray
    items: list[np.ndarray]
    weights: list[np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.kind not in (PER_TRACK, PER_USER):
            raise ValueError(f"kind must be {PER_TRACK!r} or {PER_USER!r}, got {self.kind!r}")
        if len(self.keys) != len(self.items):
            raise ValueError("one list of items per key")
        # Plain lists are accepted (a plugin model's, say): arrays from here on.
        object.__setattr__(self, "keys", np.asarray(self.keys))
        object.__setattr__(self, "items", [np.asarray(items) for items in self.items])
        if self.weights is not None:
            object.__setattr__(self, "weights", [np.asarray(w) for w in self.weights])

    def __len__(self) -> int:
        return len(self.keys)

    def as_dict(self) -> dict[int, np.ndarray]:
        """Key id to its list."""
        return dict(zip(self.keys.tolist(), self.items, strict=True))

    def records(self) -> Iterator[dict]:
        """The artifact's lines."""
        for i, key in enumerate(self.keys.tolist()):
            items = self.items[i].tolist()
            if self.kind == PER_USER:
                yield {"user": key, "tracks": items}
            elif self.weights is None:
                yield {"track": key, "recommendations": items}
            else:
                weights = [round(w, 6) for w in self.weights[i].tolist()]
                yield {"track": key, "recommendations": items, "weights": weights}


@dataclass(frozen=True)
class ItemEmbeddings:
    """One float32 vector per track (an artifact of kind ``embeddings``).

    Attributes:
        vectors: ``(max track id + 1, dim)`` float32; row ``t`` is track ``t``'s vector.
        tracks: the track ids the model learned a vector for (the other rows are zero).
    """

    vectors: np.ndarray
    tracks: np.ndarray

    kind: ClassVar[str] = EMBEDDINGS

    def __post_init__(self) -> None:
        vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"embeddings must be 2-D, got shape {vectors.shape}")
        object.__setattr__(self, "vectors", vectors)
        object.__setattr__(self, "tracks", np.asarray(self.tracks, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.tracks)

    @classmethod
    def of(cls, track_ids: np.ndarray, vectors: np.ndarray) -> ItemEmbeddings:
        """Embeddings from one vector per id (row ``i`` of ``vectors`` is ``track_ids[i]``'s)."""
        track_ids = np.asarray(track_ids, dtype=np.int64)
        rows = int(track_ids.max()) + 1 if len(track_ids) else 0
        dense = np.zeros((rows, vectors.shape[1]), dtype=np.float32)
        dense[track_ids] = vectors
        return cls(dense, np.sort(track_ids))


ARTIFACT_TYPES = (RankedTracks, RecommendationLists, ItemEmbeddings)


def artifact_path(out: str | os.PathLike, name: str, kind: str) -> Path:
    """Where ``botify train`` writes the artifact ``name`` of ``kind`` under ``out``."""
    return Path(out) / f"{name}{NPY_SUFFIX if kind == EMBEDDINGS else JSONL_SUFFIX}"


def write_artifact(out: str | os.PathLike, name: str, artifact) -> Path:
    """Write the artifact ``name`` under ``out`` atomically (:func:`artifact_path`); its path."""
    path = artifact_path(out, name, artifact.kind)
    if artifact.kind == EMBEDDINGS:
        return _atomic_write(path, lambda handle: np.save(handle, artifact.vectors))
    return write_jsonl(path, artifact.records())


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> Path:
    """Write JSON lines to a temporary file beside ``path``, then rename it into place.

    A reader never sees a half-written file, and a failure leaves any previous file untouched.

    Returns:
        The path written.

    Raises:
        DataError: the directory cannot be created or written.
    """

    def write(handle: BinaryIO) -> None:
        for record in records:
            handle.write(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))
            handle.write(b"\n")

    return _atomic_write(Path(path), write)


def write_json(path: str | os.PathLike, value: object) -> Path:
    """Write one JSON document atomically (see :func:`write_jsonl`)."""

    def write(handle: BinaryIO) -> None:
        handle.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
        handle.write(b"\n")

    return _atomic_write(Path(path), write)


def _atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    try:
        with atomic_open(path, "wb", permissions=0o644) as handle:  # artifacts are shared
            write(handle)
    except OSError as exc:
        raise DataError(f"{path.parent}: cannot write there ({exc.strerror or exc})") from None
    return path
