"""Recommendation artifacts in Redis: versioned loads, an atomic switch, and version-aware reads.

An artifact is a JSONL file of one of three kinds (the formats are frozen, see the README):

- ``per_user``: ``{"user": int, "tracks": [int, ...]}``, tracks in relevance order;
- ``per_track``: ``{"track": int, "recommendations": [int, ...], "weights": [float, ...]}`` (weights
  optional, one per recommendation);
- ``ranking``: ``{"track": int, "score": float}``, one line per track (popularity).

Keys (``NAME`` is the artifact's name, ``V`` a version number; the braces make all the keys of
an artifact one Redis Cluster slot, so its pointer and its data are on one node)::

    botify:artifact:{NAME}:current   -> V, the version being served
    botify:artifact:{NAME}:seq       -> the last version number handed out (see versions.py)
    botify:artifact:{NAME}:lock      -> held while a load decides whether to replace the version
    botify:artifact:{NAME}:V:meta    -> JSON {"kind", "count", "source", "loaded_at"}
    botify:artifact:{NAME}:V:data    -> hash id -> the packed list (below)
    botify:artifact:{NAME}:V:ranking -> JSON [[track, ...], [score, ...]] in descending order

A list is stored packed, not as JSON text: one byte for the ids' type (``H`` uint16, ``i`` int32,
``q`` int64: the smallest that holds the list's ids), the count ``n`` as uint32, the ``n`` ids,
then ``n`` float32 weights when the list has them (all little-endian). On the 50,000-track
workload that is half the memory of the JSON text, and decoding is one ``frombuffer``.

A load writes a whole new version and only then moves ``current`` to it, so a reader sees the old
version or the new one, never a mix; a malformed line aborts the load (its keys are deleted) before
anything is switched. The replaced version expires after :data:`GRACE_SECONDS`, so readers that
looked up the pointer a moment before the switch still find their data. Item embeddings (a
``.npy`` file) are loaded under the same scheme by :mod:`botify.store.embeddings`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis

from botify.errors import DataError
from botify.store.batch import Batch
from botify.store.versions import next_version

PREFIX = "botify:artifact"
PER_USER = "per_user"
PER_TRACK = "per_track"
RANKING = "ranking"
KINDS = (PER_USER, PER_TRACK, RANKING)
# How long a replaced version stays readable after the switch.
GRACE_SECONDS = 120
# Fields per HSET and commands per pipeline flush during a load.
_CHUNK = 1000
_FLUSH = 20


def artifact_key(name: str, *parts: str | int) -> str:
    """The key of ``name`` and ``parts`` (``current``, ``seq``, ``lock``, or a version and a part),
    in ``name``'s cluster slot."""
    return ":".join([f"{PREFIX}:{{{name}}}", *map(str, parts)])


def pointer_key(name: str) -> str:
    """The key holding the version of ``name`` being served."""
    return artifact_key(name, "current")


def version_key(name: str, version: str | int, part: str) -> str:
    """The key of one part (``meta``, ``data``...) of a version of ``name``."""
    return artifact_key(name, version, part)


# Every part a version may have (the embeddings' "vectors" included), expired together.
VERSION_PARTS = ("data", "ranking", "vectors", "meta")


def check_name(name: str) -> None:
    """Raises DataError unless ``name`` can name an artifact (no ':', braces or whitespace)."""
    if not name or any(c in name for c in ": \t\n{}"):
        raise DataError(f"bad artifact name {name!r}: use letters, digits, '_' or '-'")


def new_version(client: redis.Redis, name: str) -> int:
    """A version number for a new load of ``name``, never handed out before."""
    return next_version(client, artifact_key(name, "seq"))


def switch_version(client: redis.Redis, name: str, version: int) -> None:
    """Serve ``version`` of ``name`` from now on (one command); the replaced version's keys
    expire after :data:`GRACE_SECONDS`."""
    previous = client.set(pointer_key(name), version, get=True)
    if previous is not None and int(previous) != version:
        old = int(previous)
        pipe = client.pipeline(transaction=False)
        for part in VERSION_PARTS:
            pipe.expire(version_key(name, old, part), GRACE_SECONDS)
        pipe.execute()


@dataclass(frozen=True)
class Entry:
    """One per-user or per-track list.

    Attributes:
        tracks: the recommended track ids, in the artifact's order.
        weights: one weight per track (e.g. a predicted listened time), if the artifact has them.
    """

    tracks: tuple[int, ...]
    weights: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Ranking:
    """A popularity ranking, held in memory per process and per version.

    Attributes:
        tracks: track ids in descending score order.
        scores: the score of each ranked track.
    """

    tracks: np.ndarray
    scores: Mapping[int, float] = field(repr=False)

    def top(self, k: int) -> np.ndarray:
        """The ``k`` most popular tracks (fewer when the ranking is shorter)."""
        return self.tracks[: max(0, k)]

    def by_score(self, tracks: Sequence[int]) -> list[int]:
        """The ranked ones among ``tracks``, most popular first (unranked ones are left out)."""
        ranked = [t for t in tracks if t in self.scores]
        return sorted(ranked, key=lambda t: (-self.scores[t], t))


@dataclass(frozen=True)
class ArtifactLoad:
    """What a load did."""

    name: str
    version: int
    kind: str
    count: int
    seconds: float


# --------------------------------------------------------------------------------------------------
# Parsing


# Exact types (a bool is an int to isinstance, not here).
_INT = {int}
_NUMBER = {int, float}


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _id_list(value: Any, field_name: str) -> list[int]:
    if not isinstance(value, list):
        raise ValueError(f'"{field_name}" must be a list of track ids')
    # The common case in one pass of builtins; the loop below only finds what to report.
    if set(map(type, value)) <= _INT and (not value or min(value) >= 0):
        return value
    for item in value:
        if not _is_id(item):
            raise ValueError(f'"{field_name}" must hold non-negative integer ids, got {item!r}')
    return value


def _number(value: Any, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f'"{field_name}" must be a finite number, got {value!r}')
    return float(value)


def _kind_of(record: Mapping[str, Any]) -> str:
    if "user" in record:
        return PER_USER
    if "recommendations" in record:
        return PER_TRACK
    if "score" in record:
        return RANKING
    raise ValueError('not an artifact record: expected "user", "recommendations" or "score"')


def _parse_record(record: Any, kind: str | None) -> tuple[str, int, Any]:
    """Validate one decoded line; return (kind, id, value to store)."""
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    found = _kind_of(record)
    if kind is not None and found != kind:
        raise ValueError(f"a {found} record in a {kind} artifact")
    if found == PER_USER:
        if not _is_id(record["user"]):
            raise ValueError(f'"user" must be a non-negative integer, got {record["user"]!r}')
        return found, record["user"], [_id_list(record.get("tracks"), "tracks")]
    if not _is_id(record.get("track")):
        raise ValueError(f'"track" must be a non-negative integer, got {record.get("track")!r}')
    if found == RANKING:
        return found, record["track"], _number(record["score"], "score")
    tracks = _id_list(record["recommendations"], "recommendations")
    weights = record.get("weights")
    if weights is None:
        return found, record["track"], [tracks]
    if not isinstance(weights, list) or len(weights) != len(tracks):
        raise ValueError('"weights" must be a list with one number per recommendation')
    if not set(map(type, weights)) <= _NUMBER or not math.isfinite(sum(weights)):
        weights = [_number(w, "weights") for w in weights]
    return found, record["track"], [tracks, weights]


def iter_artifact(path: str | os.PathLike) -> Iterator[tuple[str, int, Any]]:
    """Parse an artifact file line by line.

    Args:
        path: the JSONL file.

    Yields:
        ``(kind, id, value)`` per record; blank lines are skipped.

    Raises:
        DataError: the file cannot be read, is empty, mixes kinds, repeats an id, or a line is
            malformed (the message names the file and the line number).
    """
    kind: str | None = None
    seen: set[int] = set()
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise DataError(f"cannot read artifact {path}: {exc.strerror or exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                kind, key, value = _parse_record(orjson.loads(line), kind)
            except orjson.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc})") from exc
            except ValueError as exc:
                raise DataError(f"{path}:{number}: {exc}") from exc
            if key in seen:
                raise DataError(f"{path}:{number}: id {key} appears twice")
            seen.add(key)
            yield kind, key, value
    if kind is None:
        raise DataError(f"artifact {path} has no records")


# --------------------------------------------------------------------------------------------------
# Loading


def file_source(path: Path) -> dict[str, Any]:
    """What identifies a loaded file: its resolved path, size and modification time."""
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def load_artifact(client: redis.Redis, name: str, path: str | os.PathLike) -> ArtifactLoad:
    """Load an artifact file into Redis as a new version of ``name``, then switch to it.

    Args:
        client: the Redis client.
        name: the artifact's name (what recommenders' configs refer to, e.g. ``"multidae"``).
        path: the JSONL file, or a ``.npy`` of item embeddings
            (:func:`botify.store.embeddings.load_embeddings`).

    Returns:
        What was loaded.

    Raises:
        DataError: the file is malformed; nothing was switched and the partial version is deleted.
    """
    from botify.store.embeddings import is_embeddings_file, load_embeddings

    if is_embeddings_file(path):
        return load_embeddings(client, name, path)
    check_name(name)
    started = time.perf_counter()
    path = Path(path)
    version = new_version(client, name)
    data_key = version_key(name, version, "data")
    ranking_key = version_key(name, version, "ranking")
    meta_key = version_key(name, version, "meta")
    kind = None
    count = 0
    try:
        source = file_source(path) if path.exists() else {"path": str(path)}
        pipe = client.pipeline(transaction=False)
        mapping: dict[int, bytes] = {}
        queued = 0
        ranked: list[tuple[int, float]] = []
        for kind, key, value in iter_artifact(path):
            count += 1
            if kind == RANKING:
                ranked.append((key, value))
                continue
            mapping[key] = pack_entry(*value)
            if len(mapping) >= _CHUNK:
                pipe.hset(data_key, mapping=mapping)
                mapping = {}
                queued += 1
                if queued >= _FLUSH:
                    pipe.execute()
                    queued = 0
        if mapping:
            pipe.hset(data_key, mapping=mapping)
        if ranked:
            # Stable: equal scores keep the file's order.
            ranked.sort(key=lambda pair: -pair[1])
            tracks, scores = zip(*ranked, strict=True)
            pipe.set(ranking_key, orjson.dumps([list(tracks), list(scores)]))
        meta = {"kind": kind, "count": count, "source": source, "loaded_at": time.time()}
        pipe.set(meta_key, orjson.dumps(meta))
        pipe.execute()
    except BaseException:
        client.unlink(data_key, ranking_key, meta_key)
        raise
    switch_version(client, name, version)
    return ArtifactLoad(name, version, str(kind), count, time.perf_counter() - started)


def artifact_info(client: redis.Redis, name: str) -> dict[str, Any] | None:
    """The metadata of the version of ``name`` being served (plus ``"version"``), or ``None``."""
    version = client.get(pointer_key(name))
    if version is None:
        return None
    raw = client.get(version_key(name, version.decode(), "meta"))
    if raw is None:
        return None
    info = orjson.loads(raw)
    info["version"] = int(version)
    return info


def load_configured_artifacts(
    client: redis.Redis,
    artifacts: Mapping[str, str | os.PathLike],
    *,
    log: Callable[[str], None] | None = None,
) -> list[ArtifactLoad]:
    """Load the artifacts a config names (``ARTIFACTS``: NAME -> file), as done at startup.

    A missing file is skipped (the recommenders that use it fall back); a file already being served
    unchanged (same path, size and modification time) is not loaded again, so several workers or
    instances starting together do the work once. Concurrent starts are serialized by a Redis lock.

    Args:
        client: the Redis client.
        artifacts: NAME -> JSONL file (or ``.npy`` embeddings).
        log: receives one line per artifact (loaded, unchanged or missing).

    Returns:
        The loads done.

    Raises:
        DataError: an existing file is malformed.
    """
    say = log or (lambda message: None)
    done = []
    for name, file in (artifacts or {}).items():
        path = Path(file)
        if not path.exists():
            say(f"artifact {name}: {path} not found, its recommenders fall back")
            continue
        with client.lock(artifact_key(name, "lock"), timeout=600, blocking_timeout=600):
            info = artifact_info(client, name)
            if info is not None and info.get("source") == file_source(path):
                say(f"artifact {name}: {path} already loaded (version {info['version']})")
                continue
            result = load_artifact(client, name, path)
        say(f"artifact {name}: loaded {result.count} {result.kind} records from {path}")
        done.append(result)
    return done


# --------------------------------------------------------------------------------------------------
# Reading


_ID_TYPES = ((b"H", np.dtype("<u2")), (b"i", np.dtype("<i4")), (b"q", np.dtype("<i8")))
_ID_TYPE = dict(_ID_TYPES)
_WEIGHT = np.dtype("<f4")


def pack_entry(tracks: Sequence[int], weights: Sequence[float] | None = None) -> bytes:
    """One list as stored in an artifact's hash (see the module docstring)."""
    ids = np.asarray(tracks, dtype=np.int64)
    low, high = (int(ids.min()), int(ids.max())) if len(ids) else (0, 0)
    code, dtype = next((c, d) for c, d in _ID_TYPES
                       if np.iinfo(d).min <= low and high <= np.iinfo(d).max)
    parts = [code, len(ids).to_bytes(4, "little"), ids.astype(dtype).tobytes()]
    if weights is not None:
        parts.append(np.asarray(weights, dtype=_WEIGHT).tobytes())
    return b"".join(parts)


def _decode_entry(raw: Any) -> Entry | None:
    """A packed list back, or a JSON one (``[tracks]`` or ``[tracks, weights]``, as versions
    loaded before lists were packed hold them); None for anything else (the caller treats it as
    missing)."""
    if isinstance(raw, bytes) and raw[:1] == b"[":
        return _decode_json_entry(raw)
    if not isinstance(raw, bytes) or len(raw) < 5 or raw[:1] not in _ID_TYPE:
        return None
    dtype = _ID_TYPE[raw[:1]]
    n = int.from_bytes(raw[1:5], "little")
    end = 5 + n * dtype.itemsize
    if len(raw) == end:
        weights = None
    elif len(raw) == end + n * _WEIGHT.itemsize:
        weights = tuple(np.frombuffer(raw, _WEIGHT, n, end).tolist())
    else:
        return None
    return Entry(tuple(np.frombuffer(raw, dtype, n, 5).tolist()), weights)


def _decode_json_entry(raw: bytes) -> Entry | None:
    try:
        value = orjson.loads(raw)
        tracks = tuple(int(t) for t in value[0])
        weights = tuple(float(w) for w in value[1]) if len(value) > 1 else None
    except (orjson.JSONDecodeError, TypeError, ValueError, IndexError, KeyError):
        return None
    if weights is not None and len(weights) != len(tracks):
        weights = None
    return Entry(tracks, weights)


# Rankings decoded once per process and version: (name, version) -> Ranking.
_ranking_cache: dict[tuple[str, str], Ranking] = {}


class ArtifactReader:
    """Reads artifacts for the request path, in as few round trips as possible.

    The reader remembers the version it last saw for each name. A lookup queues ``GET pointer`` and
    ``HMGET`` on the remembered version into the caller's :class:`Batch`; when the pointer turns out
    to have moved (a reload), the lookup is repeated on the new version, so answers always come from
    the version being served. With a ``check_interval``, a version the pointer confirmed less than
    that many seconds ago is used without asking again: a reload is seen that much later (a
    replaced version stays readable for :data:`GRACE_SECONDS`), and a ranking already decoded costs
    no round trip at all.
    """

    def __init__(self, client: redis.Redis, check_interval: float = 0.0) -> None:
        self._client = client
        self._check_interval = check_interval
        self._versions: dict[str, str] = {}
        self._confirmed: dict[str, float] = {}  # name -> monotonic time its pointer was read

    def _confirmed_version(self, name: str) -> str | None:
        """The remembered version of ``name`` if its pointer was read within the interval."""
        if time.monotonic() - self._confirmed.get(name, -math.inf) < self._check_interval:
            return self._versions[name]
        return None

    def _saw(self, name: str, version: str) -> None:
        self._versions[name] = version
        self._confirmed[name] = time.monotonic()

    def queue_entries(
        self, batch: Batch, name: str, keys: Sequence[int]
    ) -> Callable[[], list[Entry | None]]:
        """Queue lookups of ``keys`` in artifact ``name``.

        Returns:
            A function to call after ``batch.execute()``: the entries, ``None`` where missing.
        """
        confirmed = self._confirmed_version(name)
        guess = confirmed or self._versions.get(name)
        pointer = None if confirmed else batch.add("get", pointer_key(name))
        fetched = (
            batch.add("hmget", version_key(name, guess, "data"), list(keys))
            if guess is not None and keys
            else None
        )

        def resolve() -> list[Entry | None]:
            if not keys:
                return []
            if confirmed:
                version = confirmed
            else:
                raw_version = batch.result(pointer)
                if raw_version is None:
                    return [None] * len(keys)
                version = raw_version.decode()
                self._saw(name, version)
            if version == guess and fetched is not None:
                values = batch.result(fetched) or [None] * len(keys)
            else:
                try:
                    values = self._client.hmget(version_key(name, version, "data"), list(keys))
                except redis.ResponseError:
                    values = [None] * len(keys)
            return [_decode_entry(v) for v in values]

        return resolve

    def entries(self, name: str, keys: Sequence[int]) -> list[Entry | None]:
        """Look up ``keys`` in artifact ``name`` now (one round trip unless the version moved)."""
        batch = Batch(self._client)
        resolve = self.queue_entries(batch, name, keys)
        batch.execute()
        return resolve()

    def queue_ranking(self, batch: Batch, name: str) -> Callable[[], Ranking | None]:
        """Queue the lookup of ranking ``name``; the returned function gives it (or ``None``)."""
        confirmed = self._confirmed_version(name)
        pointer = None if confirmed else batch.add("get", pointer_key(name))

        def resolve() -> Ranking | None:
            if confirmed:
                return self._ranking(name, confirmed)
            raw_version = batch.result(pointer)
            if raw_version is None:
                return None
            self._saw(name, raw_version.decode())
            return self._ranking(name, raw_version.decode())

        return resolve

    def ranking(self, name: str) -> Ranking | None:
        """The ranking ``name`` being served, or ``None`` when it is not loaded."""
        batch = Batch(self._client)
        resolve = self.queue_ranking(batch, name)
        batch.execute()
        return resolve()

    def _ranking(self, name: str, version: str) -> Ranking | None:
        cached = _ranking_cache.get((name, version))
        if cached is not None:
            return cached
        try:
            raw = self._client.get(version_key(name, version, "ranking"))
        except redis.ResponseError:
            return None
        if raw is None:
            return None
        try:
            tracks, scores = orjson.loads(raw)
            ranking = Ranking(
                np.asarray(tracks, dtype=np.int64),
                dict(zip((int(t) for t in tracks), (float(s) for s in scores), strict=True)),
            )
        except (orjson.JSONDecodeError, TypeError, ValueError):
            return None
        # Keep only the newest version of each name.
        for key in [k for k in _ranking_cache if k[0] == name]:
            del _ranking_cache[key]
        _ranking_cache[(name, version)] = ranking
        return ranking
