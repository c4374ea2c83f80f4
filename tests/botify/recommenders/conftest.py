"""A small world whose right answers are known, on the session's real Redis.

Catalog: tracks 0..59, artist ``A{t // 6}`` (ten artists of six tracks each), genre ``G{t // 18}``
for tracks 0..53 (three genres of three artists each); tracks 54..59 have no genre.
Artifacts (the frozen JSONL formats, loaded with ``load_artifact``):

- ``top_tracks`` (ranking): track t scores 60 - t, so 0 is the most popular;
- ``multidae`` (per-user): user 1 -> [10, 11, 12], user 2 -> [20, 21];
- ``ranker`` (per-track, weighted): 0 -> [1, 2, 3] weights [0.9, 0.6, 0.2]; 30 -> [31, 32, 33];
- ``i2i_cooc`` (per-track): 5 -> [6, 7], 40 -> [41, 42], 41 -> [43].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import pytest

from botify.recommenders.base import RecommenderContext
from botify.recommenders.registry import build_recommenders
from botify.store.artifacts import load_artifact
from botify.store.catalog import RedisCatalog, load_records

N_TRACKS = 60
TRACKS = set(range(N_TRACKS))


def artist_of(track: int) -> int:
    """The artist number of a track of the test catalog."""
    return track // 6


def genre_of(track: int) -> int | None:
    """The genre number of a track of the test catalog (None: no genre)."""
    return track // 18 if track < 54 else None


CATALOG = [
    {"track": t, "artist": f"A{artist_of(t)}", "title": f"T{t}"}
    | ({} if genre_of(t) is None else {"genre": f"G{genre_of(t)}"})
    for t in range(N_TRACKS)
]

ARTIFACTS: dict[str, list[dict[str, Any]]] = {
    "top_tracks": [{"track": t, "score": float(N_TRACKS - t)} for t in range(N_TRACKS)],
    "multidae": [{"user": 1, "tracks": [10, 11, 12]}, {"user": 2, "tracks": [20, 21]}],
    "ranker": [
        {"track": 0, "recommendations": [1, 2, 3], "weights": [0.9, 0.6, 0.2]},
        {"track": 30, "recommendations": [31, 32, 33], "weights": [0.8, 0.7, 0.9]},
    ],
    "i2i_cooc": [
        {"track": 5, "recommendations": [6, 7]},
        {"track": 40, "recommendations": [41, 42]},
        {"track": 41, "recommendations": [43]},
    ],
}

# Every recommender type, as the shipped config names them.
RECOMMENDERS: dict[str, dict[str, Any]] = {
    "random": {"type": "random"},
    "sticky_artist": {"type": "sticky_artist"},
    "sticky_genre": {"type": "sticky_genre"},
    "top_pop": {"type": "top_pop", "k": 10, "ranking": "top_tracks"},
    "indexed": {"type": "indexed", "mode": "ordered", "recs": "multidae", "ranking": "top_tracks"},
    "indexed_random": {"type": "indexed", "mode": "random", "recs": "multidae"},
    "contextual": {"type": "contextual", "recs": "ranker"},
    "i2i": {"type": "i2i", "recs": "i2i_cooc"},
    "favorites": {
        "type": "favorites",
        "threshold": 0.8,
        "per_user": "multidae",
        "per_track": "ranker",
        "ranking": "top_tracks",
        "max_set": 1000,
    },
    "hybrid": {
        "type": "hybrid",
        "per_track": "ranker",
        "per_user": "multidae",
        "ranking": "top_tracks",
        "backfill_to": 5,
    },
}


def write_jsonl(path, records) -> str:
    """Write records as JSON lines; return the path as a string."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return str(path)


@pytest.fixture()
def catalog(redis_client) -> RedisCatalog:
    """The test catalog, loaded into the flushed Redis."""
    load_records(redis_client, CATALOG, source="test")
    return RedisCatalog(redis_client)


@pytest.fixture()
def artifacts(redis_client, tmp_path) -> dict[str, str]:
    """Every artifact of the test world loaded; NAME -> file."""
    files = {}
    for name, records in ARTIFACTS.items():
        files[name] = write_jsonl(tmp_path / f"{name}.jsonl", records)
        load_artifact(redis_client, name, files[name])
    return files


@pytest.fixture()
def build(redis_client, catalog):
    """``build(name, seed=0, **overrides)``: one recommender of :data:`RECOMMENDERS`, in process."""

    def make(name: str, seed: int = 0, specs: Mapping[str, Any] | None = None, **overrides):
        specs = {k: dict(v) for k, v in (specs or RECOMMENDERS).items()}
        specs[name].update(overrides)
        config = {"SESSION_TTL": 600, "RECOMMENDERS": specs}
        context = RecommenderContext(redis_client, catalog, config, np.random.default_rng(seed))
        return build_recommenders(config, context)[name]

    return make
