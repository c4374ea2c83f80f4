"""The tracks catalog in Redis: versioned loads, and a per-process cache for the request path.

Layout (every value JSON; the braces put all the keys in one Redis Cluster slot, so the pointer
and its versions live on one node)::

    botify:{catalog}:current     -> the version being served, e.g. "3"
    botify:{catalog}:seq         -> the last version number handed out (see versions.py)
    botify:{catalog}:lock        -> held while a load decides whether to write a new version
    botify:{catalog}:v3:tracks   -> hash: track id -> the record {"track", "artist", "title", ...}
    botify:{catalog}:v3:artists  -> hash: artist -> [track ids]
    botify:{catalog}:v3:genres   -> hash: genre -> [track ids] (tracks with a genre)
    botify:{catalog}:v3:meta     -> hash: source, digest, tracks, artists, genres, loaded_at

A load writes a complete new version, then switches ``current`` to it in one command, so
a request never sees half a catalog; the previous version expires a minute later (requests that
started on it finish). Loading the same file again changes nothing (its digest is remembered).

:class:`RedisCatalog` is the read side. What never changes within a version (the ids, artist to
tracks, genre to tracks) is cached in the process; :meth:`RedisCatalog.sync` asks Redis for the
current version (one round trip) and refreshes the cache only when the version changed.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis

from botify.errors import DataError
from botify.files import atomic_open
from botify.store.versions import next_version

PREFIX = "botify:{catalog}"
CURRENT_KEY = f"{PREFIX}:current"
SEQ_KEY = f"{PREFIX}:seq"
LOCK_KEY = f"{PREFIX}:lock"
# Ids are stored and logged as 64-bit signed ints downstream (numpy, pandas).
MAX_ID = 2**63 - 1
CHUNK = 2000
OLD_VERSION_TTL = 60


def version_key(version: int | str, part: str) -> str:
    """The key of one part (``tracks``, ``artists``, ``meta``) of a catalog version."""
    return f"{PREFIX}:v{version}:{part}"


def valid_id(value: Any) -> bool:
    """Whether ``value`` is an id: an int (not a bool) in ``[0, 2**63 - 1]``."""
    return type(value) is int and 0 <= value <= MAX_ID


@dataclass(frozen=True)
class CatalogLoad:
    """What a catalog load did.

    Attributes:
        version: the version now current.
        tracks: number of tracks in it.
        artists: number of artists in it.
        changed: False when the same content was already current (nothing written).
        seconds: wall time of the load.
    """

    version: int
    tracks: int
    artists: int
    changed: bool
    seconds: float


def parse_catalog(path: str | os.PathLike) -> tuple[list[dict[str, Any]], str]:
    """Read and check a tracks JSONL file.

    Returns:
        The records in file order, and the SHA-256 of the file's bytes.

    Raises:
        DataError: the file is missing or a line is malformed (names file and line).
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DataError(f"{file}: cannot read the catalog: {exc.strerror or exc}") from None
    records = list(_parse_lines(data, str(file)))
    return records, hashlib.sha256(data).hexdigest()


def _parse_lines(data: bytes, name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DataError(f"{name}:{number}: not JSON ({exc})") from None
        yield check_record(record, f"{name}:{number}")


def check_record(record: Any, where: str) -> dict[str, Any]:
    """Check one catalog record (an object with an int ``track``, str ``artist`` and ``title``).

    Raises:
        DataError: naming ``where`` and the field.
    """
    if not isinstance(record, dict):
        raise DataError(f"{where}: a track must be a JSON object")
    if not valid_id(record.get("track")):
        raise DataError(
            f"{where}: 'track' must be an integer id in [0, 2^63-1], got {record.get('track')!r}"
        )
    for field in ("artist", "title"):
        if not isinstance(record.get(field), str):
            raise DataError(f"{where}: {field!r} must be a string, got {record.get(field)!r}")
    return record


def load_catalog(client: redis.Redis, path: str | os.PathLike) -> CatalogLoad:
    """Load a tracks JSONL file as a new catalog version and make it current.

    Args:
        client: the Redis client.
        path: the catalog file (one track object per line).

    Returns:
        The :class:`CatalogLoad`.

    Raises:
        DataError: the file is malformed (nothing is written then).
        redis.RedisError: Redis failed mid-way (the current version is untouched).
    """
    started = time.perf_counter()
    records, digest = parse_catalog(path)
    source = str(Path(path).resolve())
    return load_records(client, records, source=source, digest=digest, started=started)


def load_records(
    client: redis.Redis,
    records: Iterable[Mapping[str, Any]],
    source: str = "<records>",
    digest: str | None = None,
    started: float | None = None,
) -> CatalogLoad:
    """Load catalog records as a new version and make it current (see :func:`load_catalog`).

    Args:
        client: the Redis client.
        records: track records (checked here).
        source: where they come from, kept in the version's metadata.
        digest: a content digest; computed from the records when omitted.
        started: ``time.perf_counter()`` at the start of the load, for the reported duration.

    Raises:
        DataError: a record is malformed or a track id repeats.
    """
    started = time.perf_counter() if started is None else started
    records = [check_record(dict(r), f"{source}: record {i + 1}") for i, r in enumerate(records)]
    if not records:
        raise DataError(f"{source}: the catalog holds no tracks")
    encoded: dict[int, bytes] = {}
    artists: dict[str, list[int]] = {}
    genres: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        track = record["track"]
        if track in encoded:
            raise DataError(f"{source}: record {i + 1}: track {track} appears twice")
        encoded[track] = orjson.dumps(record)
        artists.setdefault(record["artist"], []).append(track)
        genre = record.get("genre")
        if isinstance(genre, str) and genre:
            genres.setdefault(genre, []).append(track)
    if digest is None:
        digest = hashlib.sha256(b"\n".join(encoded.values())).hexdigest()

    # Several instances starting together load the catalog once: the others find it current.
    with client.lock(LOCK_KEY, timeout=600, blocking_timeout=600):
        current = client.get(CURRENT_KEY)
        if current is not None:
            meta = version_key(current.decode(), "meta")
            current_digest, has_genres = client.hmget(meta, "digest", "genres")
            # A version written before genres were kept is loaded again, to add them.
            if current_digest == digest.encode() and has_genres is not None:
                seconds = time.perf_counter() - started
                return CatalogLoad(int(current), len(encoded), len(artists), False, seconds)
        groups = {"artists": artists, "genres": genres}
        version = _write_version(client, encoded, groups, source, digest)
    return CatalogLoad(version, len(encoded), len(artists), True, time.perf_counter() - started)


def _write_version(
    client: redis.Redis,
    encoded: dict[int, bytes],
    groups: dict[str, dict[str, list[int]]],
    source: str,
    digest: str,
) -> int:
    """Write a complete new version, switch to it, let the previous one expire; its number.

    ``groups`` maps a part (``artists``, ``genres``) to its groups: a name and the ids in it.
    """
    version = next_version(client, SEQ_KEY)
    pipe = client.pipeline(transaction=False)
    items = list(encoded.items())
    for start in range(0, len(items), CHUNK):
        pipe.hset(version_key(version, "tracks"), mapping=dict(items[start : start + CHUNK]))
    for part, named in groups.items():
        group_items = [(name, orjson.dumps(ids)) for name, ids in named.items()]
        for start in range(0, len(group_items), CHUNK):
            pipe.hset(version_key(version, part), mapping=dict(group_items[start : start + CHUNK]))
    pipe.hset(
        version_key(version, "meta"),
        mapping={
            "source": source,
            "digest": digest,
            "tracks": len(encoded),
            "artists": len(groups["artists"]),
            "genres": len(groups["genres"]),
            "loaded_at": time.time(),
        },
    )
    pipe.execute()
    # The switch: one command, so readers see the old version or the new one, never a mix.
    previous = client.set(CURRENT_KEY, version, get=True)
    if previous is not None and int(previous) != version:
        pipe = client.pipeline(transaction=False)
        for part in ("tracks", "artists", "genres", "meta"):
            pipe.expire(version_key(previous.decode(), part), OLD_VERSION_TTL)
        pipe.execute()
    return version


@dataclass(frozen=True)
class _Snapshot:
    """One catalog version as cached in the process."""

    version: int | None
    ids: np.ndarray
    artist_tracks: dict[int, tuple[int, ...]]
    genre_tracks: dict[int, tuple[int, ...]]


_EMPTY = _Snapshot(None, np.empty(0, dtype=np.int64), {}, {})


def _by_track(groups: dict[bytes, bytes]) -> dict[int, tuple[int, ...]]:
    """Each track of a version's groups (artists or genres) mapped to all the ids of its group."""
    by_track: dict[int, tuple[int, ...]] = {}
    for value in groups.values():
        tracks = tuple(orjson.loads(value))
        for track in tracks:
            by_track[track] = tracks
    return by_track


class RedisCatalog:
    """Read access to the current catalog (implements ``botify.recommenders.base.Catalog``).

    Args:
        client: the Redis client.
        check_interval: :meth:`refresh` asks Redis for the current version at most this often
            (seconds; 0 means every call), unless the previous check failed.

    ``random_track``, ``artist_tracks`` and ``contains`` answer from the process's cache of the
    version last seen by :meth:`sync` (no round trip); :meth:`record` reads the record from Redis.
    """

    def __init__(self, client: redis.Redis, check_interval: float = 0.0) -> None:
        self.client = client
        self.check_interval = float(check_interval)
        self._snapshot = _EMPTY
        # The version this process served until Redis stopped having it (Redis restarted empty).
        self.lost_version: int | None = None
        self._synced = False
        self._next_check = 0.0
        self._lock = threading.Lock()

    def refresh(self) -> int | None:
        """:meth:`sync`, at most once per ``check_interval`` while Redis answers.

        The request path calls this: a catalog switch is seen within ``check_interval``, and once a
        check has failed (Redis unreachable) every call checks again, so requests fail fast until
        Redis is back.

        Raises:
            redis.RedisError: Redis is unreachable.
        """
        now = time.monotonic()
        if now < self._next_check:
            return self._snapshot.version
        self._next_check = 0.0  # until a check succeeds, every call checks
        version = self.sync()
        self._next_check = now + self.check_interval
        return version

    def sync(self) -> int | None:
        """Ask Redis which version is current and refresh the cache if it changed.

        Returns:
            The current version, or None when no catalog is loaded.

        Raises:
            redis.RedisError: Redis is unreachable.
        """
        raw = self.client.get(CURRENT_KEY)
        version = None if raw is None else int(raw)
        if version != self._snapshot.version or not self._synced:
            with self._lock:
                if version != self._snapshot.version or not self._synced:
                    if version is None and self._snapshot.version is not None:
                        self.lost_version = self._snapshot.version
                    elif version is not None:
                        self.lost_version = None
                    self._snapshot = self._fetch(version)
                    self._synced = True
        return version

    def _fetch(self, version: int | None) -> _Snapshot:
        if version is None:
            return _EMPTY
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(version_key(version, "artists"))
        pipe.hgetall(version_key(version, "genres"))
        by_artist, by_genre = (_by_track(raw) for raw in pipe.execute())
        ids = np.sort(np.fromiter(by_artist, dtype=np.int64, count=len(by_artist)))
        return _Snapshot(version, ids, by_artist, by_genre)

    def _current(self) -> _Snapshot:
        if not self._synced:
            self.sync()
        return self._snapshot

    @property
    def version(self) -> int | None:
        """The cached version (None: no catalog)."""
        return self._current().version

    def __len__(self) -> int:
        return len(self._current().ids)

    def ids(self) -> np.ndarray:
        """All track ids of the cached version, sorted (read-only view)."""
        view = self._current().ids.view()
        view.flags.writeable = False
        return view

    def random_track(self, rng: np.random.Generator) -> int:
        """A uniformly random track id.

        Raises:
            DataError: the catalog is empty.
        """
        ids = self._current().ids
        if not len(ids):
            raise DataError("the catalog is empty: load one with `botify load catalog FILE`")
        return int(ids[rng.integers(len(ids))])

    def artist_tracks(self, track: int) -> Sequence[int]:
        """The ids of all tracks by the artist of ``track`` (empty if ``track`` is unknown)."""
        return self._current().artist_tracks.get(track, ())

    def genre_tracks(self, track: int) -> Sequence[int]:
        """The ids of all tracks of the genre of ``track`` (empty if unknown or without genre)."""
        return self._current().genre_tracks.get(track, ())

    def contains(self, track: int) -> bool:
        """Whether ``track`` is in the catalog."""
        return track in self._current().artist_tracks

    def known(self, tracks: Iterable[int], exclude: Collection[int] = ()) -> list[int]:
        """The ``tracks`` that are in the catalog and not in ``exclude``, in their order (one
        call for a whole list, where :meth:`contains` costs one per track)."""
        catalog = self._current().artist_tracks
        return [t for t in tracks if t in catalog and t not in exclude]

    def record(self, track: int) -> dict[str, Any] | None:
        """The record of ``track`` (``track``, ``artist``, ``title`` and extra fields), or None.

        Raises:
            redis.RedisError: Redis is unreachable.
        """
        snapshot = self._current()
        if snapshot.version is None or track not in snapshot.artist_tracks:
            return None
        raw = self.client.hget(version_key(snapshot.version, "tracks"), track)
        return None if raw is None else orjson.loads(raw)

    def info(self) -> dict[str, Any]:
        """The current version's metadata (source, digest, tracks, artists, loaded_at), or {}.

        Raises:
            redis.RedisError: Redis is unreachable.
        """
        version = self.sync()
        if version is None:
            return {}
        raw = self.client.hgetall(version_key(version, "meta"))
        meta: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
        meta["version"] = version
        return meta


def synthetic_records(
    n_tracks: int, n_artists: int, rng: np.random.Generator | int | None = None
) -> list[dict]:
    """A small made-up catalog (for the demo, benchmarks and tests).

    Args:
        n_tracks: number of tracks, ids ``0..n_tracks-1``.
        n_artists: number of artists; every track gets one at random.
        rng: a generator or seed.

    Returns:
        Records ``{"track", "artist", "title", "genre", "year"}``.
    """
    rng = np.random.default_rng(rng)
    genres = ("rock", "pop", "jazz", "techno", "folk", "classical")
    artists = rng.integers(n_artists, size=n_tracks)
    years = rng.integers(1960, 2025, size=n_tracks)
    styles = rng.integers(len(genres), size=n_artists)
    return [
        {
            "track": i,
            "artist": f"Artist {int(artists[i])}",
            "title": f"Track {i}",
            "genre": genres[int(styles[artists[i]])],
            "year": int(years[i]),
        }
        for i in range(n_tracks)
    ]


def write_records(path: str | os.PathLike, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write records as JSONL, atomically (a temporary file renamed into place)."""
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")
    return path
