"""Artifact loads and the request path of every recommender, in process, on an embedded Redis.

Prints the load time of artifacts of realistic size (10,000 users x 50 tracks per-user; 50,000
tracks x 100 weighted recommendations per-track; a 50,000-track ranking) and, per recommender, the
mean time of ``recommend_next`` relative to ``random`` measured in the same run (the machine is
shared, so only ratios mean something), plus Redis commands and round trips per request.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from botify.config import load_config
from botify.recommenders.base import RecommenderContext
from botify.recommenders.registry import build_recommenders
from botify.store import EmbeddedRedis, connect
from botify.store.artifacts import load_artifact
from botify.store.catalog import RedisCatalog, load_records, synthetic_records
from botify.store.sessions import end_session

N_TRACKS, N_USERS, REQUESTS = 50_000, 10_000, 2_000
SHIPPED = Path(__file__).resolve().parents[1] / "config.json"


def write(path: Path, records) -> str:
    with open(path, "wb") as handle:
        for record in records:
            handle.write(orjson.dumps(record) + b"\n")
    return str(path)


def main() -> None:
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp())
    files = {
        "multidae": write(tmp / "multidae.jsonl", (
            {"user": u, "tracks": rng.choice(N_TRACKS, 50, replace=False).tolist()}
            for u in range(N_USERS))),
        "ranker": write(tmp / "ranker.jsonl", (
            {"track": t, "recommendations": rng.integers(0, N_TRACKS, 100).tolist(),
             "weights": np.round(rng.random(100), 3).tolist()} for t in range(N_TRACKS))),
        "i2i_cooc": write(tmp / "i2i_cooc.jsonl", (
            {"track": t, "recommendations": rng.integers(0, N_TRACKS, 50).tolist()}
            for t in range(N_TRACKS))),
        "top_tracks": write(tmp / "top_tracks.jsonl", (
            {"track": t, "score": float(N_TRACKS - t)} for t in range(N_TRACKS))),
    }
    with EmbeddedRedis() as server:
        client = connect(server.url)
        load_records(client, synthetic_records(N_TRACKS, 5000, rng=1))
        for name, file in files.items():
            result = load_artifact(client, name, file)
            size = Path(file).stat().st_size / 1e6
            print(f"load {name:10s} {result.count:6d} {result.kind:9s} records "
                  f"({size:5.1f} MB) in {result.seconds:5.2f} s")
        config = load_config(SHIPPED)
        catalog = RedisCatalog(client)
        context = RecommenderContext(client, catalog, config, np.random.default_rng(0))
        recommenders = build_recommenders(config, context)
        users = rng.integers(0, N_USERS, REQUESTS).tolist()
        times = rng.choice([0.0, 0.3, 0.9, 1.0], REQUESTS).tolist()
        timings = {}
        for name in config["EXPERIMENTS"]["ALL"]:
            recommender = recommenders[name]
            before = client.info("commandstats")
            prev = 0
            started = time.perf_counter()
            for i, (user, listened) in enumerate(zip(users, times, strict=True)):
                prev = recommender.recommend_next(user % 200, prev, listened)
                if i % 10 == 9:
                    end_session(client, user % 200)
            elapsed = time.perf_counter() - started
            after = client.info("commandstats")
            commands = sum(v["calls"] for v in after.values()) - sum(
                v["calls"] for v in before.values())
            timings[name] = (elapsed / REQUESTS, commands / REQUESTS)
        base = timings["random"][0]
        print(f"\n{'recommender':14s} {'time/request':>13s} {'vs random':>10s} {'commands':>9s}")
        for name, (seconds, commands) in timings.items():
            print(f"{name:14s} {seconds * 1e6:10.0f} us {seconds / base:9.1f}x {commands:9.1f}")


if __name__ == "__main__":
    main()
