"""Reading and writing a world directory: ``tracks.jsonl``, ``embeddings.npy``, ``users.jsonl``.

``tracks.jsonl`` is the service's catalog format (``{"track", "artist", "title", "genre",
"year"}``); row ``i`` of ``embeddings.npy`` (float32) belongs to the track on line ``i``;
``users.jsonl`` has one user per line: ``{"user", "interests": [track ids], "consume_bias",
"consume_sharpness", "session_budget", "artist_discount_gamma", "interest_neighbours"}`` (the
course's names; fields left out take the defaults of ``config/env.yml``). Files are written to
temporary names and renamed, so a failed run leaves no half-written world.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from sim.errors import SimError
from sim.world.model import World

TRACKS_FILE = "tracks.jsonl"
EMBEDDINGS_FILE = "embeddings.npy"
USERS_FILE = "users.jsonl"


@dataclass(frozen=True)
class UserDefaults:
    """Values for the fields a ``users.jsonl`` line leaves out (the course's defaults)."""

    interest_neighbours: int = 10
    consume_bias: float = 0.6
    consume_sharpness: float = 10.0
    session_budget: int = 5
    artist_discount_gamma: float = 0.8


def save_world(world: World, out: str | os.PathLike) -> Path:
    """Write ``world`` into the directory ``out`` (created if needed); same world, same bytes.

    Args:
        world: the world.
        out: the directory.

    Returns:
        The directory.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tracks = b"".join(orjson.dumps(world.track_record(i)) + b"\n" for i in range(world.n_tracks))
    users = []
    for u in range(world.n_users):
        record = {
            "user": int(world.user_ids[u]),
            "interests": world.track_ids[world.interests(u)].tolist(),
            "consume_bias": float(world.consume_bias[u]),
            "consume_sharpness": float(world.consume_sharpness[u]),
            "session_budget": int(world.session_budget[u]),
            "artist_discount_gamma": float(world.artist_gamma[u]),
            "interest_neighbours": int(world.interest_neighbours[u]),
        }
        users.append(orjson.dumps(record) + b"\n")
    staged = []
    try:
        for name, write in (
            (TRACKS_FILE, lambda f: f.write(tracks)),
            (USERS_FILE, lambda f: f.write(b"".join(users))),
            (EMBEDDINGS_FILE, lambda f: np.save(f, world.embeddings.astype(np.float32))),
        ):
            tmp = out / f".{name}.tmp"
            with open(tmp, "wb") as f:
                write(f)
            staged.append((tmp, out / name))
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return out


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise SimError(
            f"{path} not found: generate a world with `python -m sim.world --out {path.parent}`"
        )
    records = []
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise SimError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise SimError(f"{path}:{number}: expected a JSON object")
            records.append(record)
    return records


def _field(record: dict[str, Any], name: str, kind: type, where: str, default: Any = None) -> Any:
    value = record.get(name, default)
    if value is None:
        raise SimError(f"{where}: missing field {name!r}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SimError(f"{where}: field {name!r} must be {kind.__name__}, got {value!r}")
    return value


def load_world(directory: str | os.PathLike, defaults: UserDefaults | None = None) -> World:
    """Load the world in ``directory``.

    Args:
        directory: a directory with ``tracks.jsonl``, ``embeddings.npy`` and ``users.jsonl``.
        defaults: values for user fields left out (default: :class:`UserDefaults`).

    Returns:
        The world.

    Raises:
        SimError: a file is missing or malformed (the message names the file and line).
    """
    directory = Path(directory)
    defaults = defaults or UserDefaults()
    tracks_path = directory / TRACKS_FILE
    track_records = _read_jsonl(tracks_path)
    if not track_records:
        raise SimError(f"{tracks_path}: no tracks")
    artist_index: dict[str, int] = {}
    ids, artist_of, titles, genres, years = [], [], [], [], []
    for number, record in enumerate(track_records, 1):
        where = f"{tracks_path}:{number}"
        ids.append(_field(record, "track", int, where))
        artist = _field(record, "artist", str, where)
        artist_of.append(artist_index.setdefault(artist, len(artist_index)))
        titles.append(_field(record, "title", str, where))
        genres.append(str(record.get("genre") or ""))
        year = record.get("year") or 0
        years.append(year if isinstance(year, int) else 0)
    if len(set(ids)) != len(ids):
        raise SimError(f"{tracks_path}: track ids are not unique")

    emb_path = directory / EMBEDDINGS_FILE
    if not emb_path.is_file():
        raise SimError(f"{emb_path} not found")
    try:
        embeddings = np.load(emb_path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise SimError(f"{emb_path}: not a numpy array file ({exc})") from None
    if embeddings.ndim != 2 or len(embeddings) != len(ids):
        raise SimError(
            f"{emb_path}: expected one row per track ({len(ids)}), got shape {embeddings.shape}"
        )
    if not np.isfinite(embeddings).all():
        raise SimError(f"{emb_path}: contains NaN or infinite values")
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)

    position = {t: i for i, t in enumerate(ids)}
    users_path = directory / USERS_FILE
    user_records = _read_jsonl(users_path)
    if not user_records:
        raise SimError(f"{users_path}: no users")
    user_ids, offsets, interests = [], [0], []
    bias, sharpness, budget, gamma, neighbours = [], [], [], [], []
    for number, record in enumerate(user_records, 1):
        where = f"{users_path}:{number}"
        user_ids.append(_field(record, "user", int, where))
        listed = _field(record, "interests", list, where)
        if not listed:
            raise SimError(f"{where}: a user needs at least one interest")
        for track in listed:
            if track not in position:
                raise SimError(f"{where}: interest {track!r} is not a track of {tracks_path}")
            interests.append(position[track])
        offsets.append(len(interests))
        bias.append(_field(record, "consume_bias", float, where, defaults.consume_bias))
        sharpness.append(
            _field(record, "consume_sharpness", float, where, defaults.consume_sharpness)
        )
        budget.append(_field(record, "session_budget", int, where, defaults.session_budget))
        gamma.append(
            _field(record, "artist_discount_gamma", float, where, defaults.artist_discount_gamma)
        )
        neighbours.append(
            _field(record, "interest_neighbours", int, where, defaults.interest_neighbours)
        )
        if budget[-1] < 1 or neighbours[-1] < 1:
            raise SimError(f"{where}: session_budget and interest_neighbours must be >= 1")
    if len(set(user_ids)) != len(user_ids):
        raise SimError(f"{users_path}: user ids are not unique")

    return World(
        track_ids=np.array(ids, dtype=np.int64),
        artist_of=np.array(artist_of, dtype=np.int64),
        artist_names=list(artist_index),
        titles=titles,
        genres=genres,
        years=np.array(years, dtype=np.int64),
        embeddings=embeddings,
        user_ids=np.array(user_ids, dtype=np.int64),
        interest_offsets=np.array(offsets, dtype=np.int64),
        interest_tracks=np.array(interests, dtype=np.int64),
        consume_bias=np.array(bias, dtype=np.float64),
        consume_sharpness=np.array(sharpness, dtype=np.float64),
        session_budget=np.array(budget, dtype=np.int64),
        artist_gamma=np.array(gamma, dtype=np.float64),
        interest_neighbours=np.array(neighbours, dtype=np.int64),
    )
