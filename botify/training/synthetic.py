"""Synthetic event logs with a planted structure, for the tests, the benchmark and the notebook.

The world: tracks fall into groups; every track has a few *successors* in its group; every user
belongs to one group and has a few interest tracks in it, drawn with a skewed popularity. A
session starts from one of the user's interests (time 1.0); the serving policy then recommends a
successor of the previous track with probability ``follow``, otherwise a uniformly random track.
The user listens:

- 0 to a track already played in the session;
- about 0.95 to a successor of the previous track in the user's group;
- about 0.7 to another track of the user's group, 0.5 to a successor outside it, 0.1 otherwise;

(with Gaussian noise, rounded to 2 decimals), and, as in the simulator, after each listen the
session's budget drops by one with probability ``1 - time``; the session ends at 0 with a
``last`` event.

So per-user models should learn the groups and interests, item-to-item models the successors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from botify.events import (
    EXPERIMENTS,
    LATENCY,
    MESSAGE,
    RECOMMENDATION,
    RECOMMENDER,
    TIME,
    TIMESTAMP,
    TRACK,
    USER,
)

SESSION_GAP_MS = 1000  # sessions never overlap: each lasts fewer steps (1 ms apart) than the gap
START_MS = 1_700_000_000_000


@dataclass(frozen=True)
class PlantedWorld:
    """The hidden structure behind synthetic logs.

    Attributes:
        track_group: the group of each track (index = track id).
        successors: ``n_tracks x n_successors`` track ids: the good next tracks of each track.
        user_group: the group of each user (index = user id).
        interests: ``n_users x n_interests`` track ids a user starts sessions from.
    """

    track_group: np.ndarray
    successors: np.ndarray
    user_group: np.ndarray
    interests: np.ndarray

    @property
    def n_tracks(self) -> int:
        """Number of tracks (ids 0..n-1)."""
        return len(self.track_group)

    @property
    def n_users(self) -> int:
        """Number of users (ids 0..n-1)."""
        return len(self.user_group)


def planted_world(
    n_users: int,
    n_tracks: int,
    n_groups: int,
    rng: np.random.Generator | int | None = None,
    n_successors: int = 3,
    n_interests: int = 3,
) -> PlantedWorld:
    """Draw a world: groups of tracks, successors within groups, users with interests.

    Raises:
        ValueError: a group would hold too few tracks for the successors and interests.
    """
    rng = np.random.default_rng(rng)
    track_group = rng.permutation(np.arange(n_tracks) % n_groups)
    members = [np.flatnonzero(track_group == g) for g in range(n_groups)]
    if min(len(m) for m in members) <= max(n_successors, n_interests):
        raise ValueError("too few tracks per group for the successors and interests")
    successors = np.empty((n_tracks, n_successors), dtype=np.int64)
    for group in members:
        for track in group:
            others = group[group != track]
            successors[track] = rng.choice(others, size=n_successors, replace=False)
    user_group = rng.integers(0, n_groups, size=n_users)
    interests = np.empty((n_users, n_interests), dtype=np.int64)
    # A skewed popularity within each group, so that popularity is informative but not everything.
    weights = [1.0 / np.arange(1, len(m) + 1) for m in members]
    for user, group in enumerate(user_group):
        p = weights[group] / weights[group].sum()
        interests[user] = rng.choice(members[group], size=n_interests, replace=False, p=p)
    return PlantedWorld(track_group, successors, user_group, interests)


def catalog_records(
    world: PlantedWorld, tracks_per_artist: int = 10, extra_tracks: int = 0
) -> list[dict]:
    """A tracks catalog of the world: a track's genre is its group, artists nest in genres.

    Each group's tracks, in id order, are split into artists of ``tracks_per_artist`` tracks.
    ``extra_tracks`` catalog-only tracks (ids after the world's, genres in turn, an artist of
    their own each) stand for tracks nobody has played yet.
    """
    records = []
    for group in range(int(world.track_group.max()) + 1 if world.n_tracks else 0):
        members = np.flatnonzero(world.track_group == group)
        for rank, track in enumerate(members.tolist()):
            records.append({"track": track, "artist": f"artist{group}-{rank // tracks_per_artist}",
                            "title": f"t{track}", "genre": f"genre{group}"})
    groups = max(int(world.track_group.max()) + 1, 1) if world.n_tracks else 1
    for offset in range(extra_tracks):
        track = world.n_tracks + offset
        records.append({"track": track, "artist": f"new{track}", "title": f"t{track}",
                        "genre": f"genre{offset % groups}"})
    return sorted(records, key=lambda record: record["track"])


def generate_events(
    world: PlantedWorld,
    n_events: int,
    rng: np.random.Generator | int | None = None,
    follow: float = 0.5,
    budget: int = 5,
    max_steps: int = 200,
    batch: int = 4096,
) -> pd.DataFrame:
    """Play sessions in the world until about ``n_events`` events are logged (whole sessions).

    Returns:
        Events in the log's layout (``message, timestamp, user, track, time, latency,
        recommendation, experiments, recommender``), in timestamp order.
    """
    rng = np.random.default_rng(rng)
    parts: list[dict[str, np.ndarray]] = []
    produced = 0
    first_session = 0
    while produced < n_events:
        part = _play_batch(world, rng, batch, follow, budget, max_steps, first_session)
        # Keep whole sessions, up to the requested count.
        order = np.lexsort((part["step"], part["session"]))
        part = {key: value[order] for key, value in part.items()}
        session_end = np.flatnonzero(part["message"] == 1) + 1
        room = n_events - produced
        fits = session_end[session_end <= room]
        keep = int(fits[-1]) if len(fits) else int(session_end[0])
        part = {key: value[:keep] for key, value in part.items()}
        parts.append(part)
        produced += keep
        first_session += batch
    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    timestamps = START_MS + merged["session"] * SESSION_GAP_MS + merged["step"]
    order = np.argsort(timestamps, kind="stable")
    recommendation = merged["recommendation"][order]
    is_last = merged["message"][order] == 1
    return pd.DataFrame(
        {
            MESSAGE: np.where(is_last, "last", "next"),
            TIMESTAMP: timestamps[order],
            USER: merged["user"][order],
            TRACK: merged["track"][order],
            TIME: merged["time"][order],
            LATENCY: 0.001,
            RECOMMENDATION: pd.arrays.IntegerArray(recommendation.astype(np.int64), is_last),
            EXPERIMENTS: [{}] * len(order),
            RECOMMENDER: "planted",
        }
    )


def _play_batch(
    world: PlantedWorld,
    rng: np.random.Generator,
    size: int,
    follow: float,
    budget: int,
    max_steps: int,
    first_session: int,
) -> dict[str, np.ndarray]:
    users = rng.integers(0, world.n_users, size=size)
    groups = world.user_group[users]
    current = world.interests[users, rng.integers(0, world.interests.shape[1], size=size)]
    current_time = np.ones(size)
    left = np.full(size, budget)
    history = np.full((size, max_steps + 1), -1, dtype=np.int64)
    history[:, 0] = current
    alive = np.arange(size)
    out: dict[str, list[np.ndarray]] = {
        k: [] for k in ("session", "step", "user", "track", "time", "recommendation", "message")
    }

    def emit(rows: np.ndarray, step: int, track, time, recommendation, message: int) -> None:
        out["session"].append(first_session + rows)
        out["step"].append(np.full(len(rows), step))
        out["user"].append(users[rows])
        out["track"].append(track)
        out["time"].append(time)
        out["recommendation"].append(recommendation)
        out["message"].append(np.full(len(rows), message, dtype=np.int8))

    for step in range(max_steps):
        prev = current[alive]
        succ = world.successors[prev, rng.integers(0, world.successors.shape[1], size=len(alive))]
        rand = rng.integers(0, world.n_tracks, size=len(alive))
        rec = np.where(rng.random(len(alive)) < follow, succ, rand)
        emit(alive, step, prev, current_time[alive], rec, 0)
        in_group = world.track_group[rec] == groups[alive]
        is_succ = (world.successors[prev] == rec[:, None]).any(axis=1)
        base = np.select([in_group & is_succ, in_group, is_succ], [0.95, 0.7, 0.5], 0.1)
        time = np.clip(base + rng.normal(0.0, 0.08, size=len(alive)), 0.0, 1.0)
        repeat = (history[alive, : step + 1] == rec[:, None]).any(axis=1)
        time = np.round(np.where(repeat, 0.0, time), 2)
        history[alive, step + 1] = rec
        current[alive] = rec
        current_time[alive] = time
        left[alive] -= rng.random(len(alive)) < 1.0 - time
        ended = (left[alive] <= 0) | (step == max_steps - 1)
        done = alive[ended]
        emit(done, step + 1, rec[ended], time[ended], np.full(len(done), -1), 1)
        alive = alive[~ended]
        if len(alive) == 0:
            break
    return {key: np.concatenate(values) for key, values in out.items()}


def write_event_log(
    events: pd.DataFrame,
    directory: str | os.PathLike,
    name: str = "data.jsonl",
    lines_per_file: int | None = None,
) -> list[Path]:
    """Write events as the service's log, rotated like ``RotatingFileHandler`` if asked.

    With ``lines_per_file``, the oldest events go to the highest suffix: ``name.2``, ``name.1``,
    then ``name`` holds the newest.

    Returns:
        The files written, oldest first.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    columns = [
        MESSAGE,
        TIMESTAMP,
        USER,
        TRACK,
        TIME,
        LATENCY,
        RECOMMENDATION,
        EXPERIMENTS,
        RECOMMENDER,
    ]
    missing = events[RECOMMENDATION].isna().to_numpy()
    recommendation = events[RECOMMENDATION].fillna(-1).to_numpy(dtype=np.int64).tolist()
    values = [
        [None if m else r for r, m in zip(recommendation, missing.tolist(), strict=True)]
        if column == RECOMMENDATION
        else events[column].tolist()
        for column in columns
    ]
    lines = [
        orjson.dumps(dict(zip(columns, row, strict=True))) for row in zip(*values, strict=True)
    ]
    size = lines_per_file or max(len(lines), 1)
    chunks = [lines[i : i + size] for i in range(0, len(lines), size)] or [[]]
    paths = []
    for age, chunk in enumerate(chunks):
        suffix = len(chunks) - 1 - age
        path = directory / (name if suffix == 0 else f"{name}.{suffix}")
        path.write_bytes(b"\n".join(chunk) + (b"\n" if chunk else b""))
        paths.append(path)
    return paths
