"""Catalog load speed: 50,000 tracks from a JSONL file into Redis, target < 5 s.

Runs on a private redis-server (the embedded one); prints the load time of a fresh load, of a reload
of the same file (a no-op by digest), of a changed file (a new version), and the time a worker takes
to build its per-process cache of the new version.

    .venv/bin/python bench/bench_catalog.py [--tracks 50000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from botify.store import EmbeddedRedis, connect
from botify.store.catalog import RedisCatalog, load_catalog, synthetic_records, write_records

TARGET_SECONDS = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--artists", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as server:
        client = connect(server.url)
        first = write_records(
            Path(tmp) / "tracks.jsonl", synthetic_records(args.tracks, args.artists, 0)
        )
        second = write_records(
            Path(tmp) / "tracks2.jsonl", synthetic_records(args.tracks, args.artists, 1)
        )
        fresh = load_catalog(client, first)
        again = load_catalog(client, first)
        changed = load_catalog(client, second)
        catalog = RedisCatalog(client)
        started = time.perf_counter()
        catalog.sync()
        cache = time.perf_counter() - started
        print(f"tracks {fresh.tracks}, artists {fresh.artists}")
        print(f"fresh load:           {fresh.seconds:6.2f} s (target < {TARGET_SECONDS:.0f} s)")
        print(f"same file again:      {again.seconds:6.2f} s (unchanged: {not again.changed})")
        print(f"changed file:         {changed.seconds:6.2f} s (version {changed.version})")
        print(f"worker cache rebuild: {cache:6.2f} s")
        ok = fresh.seconds < TARGET_SECONDS and changed.seconds < TARGET_SECONDS
        print("target met" if ok else "TARGET MISSED")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
