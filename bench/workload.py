"""The service's real workload for the benchmarks: the shipped routing over a full-size world.

:func:`write_workload` writes, into a directory, a catalog of 50,000 tracks (5,000 artists, with
genres), the four artifacts the shipped ``config.json`` loads with the shapes ``make demo`` trains
(``top_tracks``: every track ranked; ``i2i_cooc``: 100 next tracks per track; ``ranker``: 100 next
tracks per track with weights; ``multidae``: 50 tracks per user for 10,000 users) and a config: the
shipped one, its catalog and artifacts pointed at these files, routing its ``ALL`` experiment (or
only the recommenders named).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import orjson

from botify.store.catalog import synthetic_records

ROOT = Path(__file__).resolve().parents[1]
TRACKS = 50_000
USERS = 10_000
PER_TRACK = 100
PER_USER = 50


def _write_lines(path: Path, records) -> Path:
    with open(path, "wb") as file:
        for record in records:
            file.write(orjson.dumps(record) + b"\n")
    return path


def write_artifacts(directory: Path, tracks: int = TRACKS, users: int = USERS,
                    seed: int = 0) -> dict[str, str]:
    """The four artifacts of the shipped config, at the sizes of ``make demo``; name -> file."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(tracks)
    scores = np.sort(rng.lognormal(0, 1.5, tracks))[::-1]
    files = {
        "top_tracks": _write_lines(directory / "top_tracks.jsonl", (
            {"track": int(t), "score": float(s)} for t, s in zip(order, scores, strict=True))),
        "i2i_cooc": _write_lines(directory / "i2i_cooc.jsonl", (
            {"track": t, "recommendations": rng.choice(tracks, PER_TRACK, replace=False).tolist()}
            for t in range(tracks))),
        "ranker": _write_lines(directory / "ranker.jsonl", (
            {"track": t, "recommendations": rng.choice(tracks, PER_TRACK, replace=False).tolist(),
             "weights": np.sort(rng.random(PER_TRACK))[::-1].round(6).tolist()}
            for t in range(tracks))),
        "multidae": _write_lines(directory / "multidae.jsonl", (
            {"user": u, "tracks": rng.choice(tracks, PER_USER, replace=False).tolist()}
            for u in range(users))),
    }
    return {name: str(path) for name, path in files.items()}


def write_workload(directory: Path, recommenders: Sequence[str] | None = None,
                   tracks: int = TRACKS, users: int = USERS) -> Path:
    """Catalog, artifacts and a config under ``directory`` (made once, reused); the config's path.

    Args:
        recommenders: the arms of the active experiment (default: the shipped ``ALL``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    catalog = directory / "tracks.jsonl"
    if not catalog.exists():
        _write_lines(catalog, synthetic_records(tracks, tracks // 10, 0))
    marker = directory / "artifacts.json"
    if marker.exists():
        artifacts = json.loads(marker.read_text())
    else:
        artifacts = write_artifacts(directory, tracks, users)
        marker.write_text(json.dumps(artifacts))
    config = json.loads((ROOT / "config.json").read_text())
    arms = list(recommenders or config["EXPERIMENTS"]["ALL"])
    name = "_".join(recommenders) if recommenders else "ALL"
    config.update(TRACKS_CATALOG=str(catalog), ARTIFACTS=artifacts,
                  DATA_LOG_FILE=str(directory / "log" / name / "data.jsonl"),
                  EXPERIMENTS={"BENCH": arms}, ACTIVE_EXPERIMENT="BENCH")
    path = directory / f"config-{name}.json"
    path.write_text(json.dumps(config, indent=2))
    return path
