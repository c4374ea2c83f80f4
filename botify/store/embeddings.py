"""Item embeddings in Redis: a float32 matrix per version, decoded once per worker and version.

An embeddings artifact is a ``.npy`` file holding a 2-D float32 array whose row ``t`` is track
``t``'s vector (a zero row: no vector). It is stored under the same names, version counter,
atomic switch and grace expiry as the JSONL artifacts (:mod:`botify.store.artifacts`)::

    botify:artifact:{NAME}:current   -> V, the version being served
    botify:artifact:{NAME}:V:meta    -> JSON {"kind": "embeddings", "count", "shape", "source", ...}
    botify:artifact:{NAME}:V:vectors -> the matrix's bytes, float32, C order

``count`` is the number of non-zero rows. A worker's :class:`EmbeddingsReader` asks only for the
pointer on a request (queued in the request's batch); it fetches and decodes the bytes the first
time it sees a version, with ``np.frombuffer`` (no copy), and keeps that matrix until the pointer
moves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import redis

from botify.errors import DataError
from botify.store.artifacts import (
    ArtifactLoad,
    check_name,
    file_source,
    new_version,
    pointer_key,
    switch_version,
    version_key,
)
from botify.store.batch import Batch

EMBEDDINGS = "embeddings"
SUFFIX = ".npy"
VECTORS = "vectors"


def read_embeddings(path: str | os.PathLike) -> np.ndarray:
    """An embeddings artifact (``.npy``): its float32 matrix.

    Raises:
        DataError: unreadable, not a 2-D float32 array, or not finite.
    """
    path = Path(path)
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc})") from None
    if vectors.dtype != np.float32 or vectors.ndim != 2:
        raise DataError(f"{path}: embeddings must be a 2-D float32 array, got {vectors.dtype} of "
                        f"shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise DataError(f"{path}: embeddings hold NaN or infinite values")
    return vectors


def is_embeddings_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an embeddings artifact (by its ``.npy`` suffix)."""
    return Path(path).suffix == SUFFIX


def load_embeddings(client: redis.Redis, name: str, path: str | os.PathLike) -> ArtifactLoad:
    """Load an embeddings ``.npy`` into Redis as a new version of ``name``, then switch to it.

    Args:
        client: the Redis client.
        name: the artifact's name (what recommenders' configs refer to).
        path: the ``.npy`` file.

    Returns:
        What was loaded (``count``: the rows with a vector).

    Raises:
        DataError: a bad name or a malformed file; nothing was switched.
    """
    check_name(name)
    started = time.perf_counter()
    path = Path(path)
    if not path.exists():
        raise DataError(f"cannot read artifact {path}: no such file")
    vectors = np.ascontiguousarray(read_embeddings(path))
    count = int(np.count_nonzero(np.any(vectors != 0, axis=1)))
    version = new_version(client, name)
    keys = [version_key(name, version, part) for part in (VECTORS, "meta")]
    meta = {"kind": EMBEDDINGS, "count": count, "shape": list(vectors.shape),
            "source": file_source(path), "loaded_at": time.time()}
    try:
        pipe = client.pipeline(transaction=False)
        pipe.set(keys[0], vectors.tobytes())
        pipe.set(keys[1], orjson.dumps(meta))
        pipe.execute()
    except BaseException:
        client.unlink(*keys)
        raise
    switch_version(client, name, version)
    return ArtifactLoad(name, version, EMBEDDINGS, count, time.perf_counter() - started)


@dataclass(frozen=True)
class Embeddings:
    """One version of an embeddings artifact, as a worker holds it.

    Attributes:
        name: the artifact's name.
        version: its version number (what a recommender keys what it derives from it by).
        vectors: ``(rows, dim)`` float32, read-only; row ``t`` is track ``t``'s vector.
        norms: each row's Euclidean norm (0: the track has no vector).
    """

    name: str
    version: int
    vectors: np.ndarray = field(repr=False)
    norms: np.ndarray = field(repr=False)

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return int(self.vectors.shape[1])

    def has(self, track: int) -> bool:
        """Whether ``track`` has a (non-zero) vector."""
        return 0 <= track < len(self.norms) and bool(self.norms[track] > 0)


# Decoded once per process and version: name -> Embeddings (the newest seen only).
_cache: dict[str, Embeddings] = {}


class EmbeddingsReader:
    """Reads embeddings for the request path: the pointer in the caller's round trip, the matrix
    itself once per version (an extra round trip the first time a version is seen)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def queue(self, batch: Batch, name: str) -> Callable[[], Embeddings | None]:
        """Queue the lookup of embeddings ``name``.

        Returns:
            A function to call after ``batch.execute()``: the version being served, or ``None``
            when none is loaded (or it is not an embeddings artifact).
        """
        pointer = batch.add("get", pointer_key(name))

        def resolve() -> Embeddings | None:
            raw = batch.result(pointer)
            if raw is None:
                return None
            return self._decoded(name, int(raw))

        return resolve

    def get(self, name: str) -> Embeddings | None:
        """The embeddings ``name`` being served now, or ``None``."""
        batch = Batch(self._client)
        resolve = self.queue(batch, name)
        batch.execute()
        return resolve()

    def _decoded(self, name: str, version: int) -> Embeddings | None:
        cached = _cache.get(name)
        if cached is not None and cached.version == version:
            return cached
        pipe = self._client.pipeline(transaction=False)
        pipe.get(version_key(name, version, "meta"))
        pipe.get(version_key(name, version, VECTORS))
        try:
            raw_meta, raw = pipe.execute(raise_on_error=False)
            meta = orjson.loads(raw_meta) if isinstance(raw_meta, bytes) else None
            if not isinstance(raw, bytes) or not meta or meta.get("kind") != EMBEDDINGS:
                return None
            rows, dim = (int(n) for n in meta["shape"])
            vectors = np.frombuffer(raw, dtype=np.float32).reshape(rows, dim)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        embeddings = Embeddings(name, version, vectors, np.linalg.norm(vectors, axis=1))
        _cache[name] = embeddings
        return embeddings
