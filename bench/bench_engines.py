"""Benchmark: ``botify analyze`` with the pandas engine against the Spark engine, same logs.

Generates a synthetic A/B log of about ``--events`` events (default 10,000,000) as the files of
``--files`` service processes, then runs ``botify analyze LOGS --experiment AB`` once per engine,
each in its own process, and prints the wall time and the peak memory (RSS summed over the process
and its children, the JVM included, sampled every 0.2 s), with Spark's figures relative to
pandas' (the baseline of the same run). The two reports' effects are compared too.

    .venv/bin/python bench/bench_engines.py [--events 10000000] [--files 4] [--master local[2]]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import psutil

from botify.analysis.synthetic import generate_events

EVENTS_PER_USER = 24  # generate_events' defaults: 3 sessions of 8 tracks


def write_log(directory: Path, events: int, files: int, seed: int = 0) -> int:
    """About ``events`` events of an A/B test (T1 +5% time) as ``files`` processes' files."""
    directory.mkdir(parents=True, exist_ok=True)
    handles = [open(directory / f"data.bench.{i}.jsonl", "wb") for i in range(files)]  # noqa: SIM115
    written = 0
    try:
        chunk_users = 50_000
        for part, first_user in enumerate(range(0, max(1, events // EVENTS_PER_USER),
                                                chunk_users)):
            frame = generate_events(chunk_users, recommenders=("random", "sticky"),
                                    time_effects={"T1": 1.05}, seed=seed + part)
            frame["user"] += first_user
            records = frame.to_dict("records")
            for i, record in enumerate(records):
                rec = record["recommendation"]
                record["recommendation"] = None if pd.isna(rec) else int(rec)
                record["id"] = f"bench.{i % files}:{written + i}"
                handles[i % files].write(orjson.dumps(record) + b"\n")
            written += len(records)
            if written >= events:
                break
    finally:
        for handle in handles:
            handle.close()
    return written


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB, the process tree) of one command."""
    began = time.perf_counter()
    process = psutil.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{process.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - began, peak / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    botify = str(Path(sys.executable).with_name("botify"))
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        logs = Path(tmp) / "logs"
        began = time.perf_counter()
        written = write_log(logs, args.events, args.files)
        size = sum(f.stat().st_size for f in logs.iterdir()) / 2**20
        print(f"generated {written:,} events ({size:,.0f} MB in {args.files} files) in "
              f"{time.perf_counter() - began:.0f} s")
        figures = {}
        for engine, extra in (("pandas", []), ("spark", ["--master", args.master])):
            out = Path(tmp) / engine
            figures[engine] = run([botify, "analyze", str(logs), "--experiment", "AB", "--out",
                                   str(out), "--engine", engine, *extra])
        left = pd.read_csv(Path(tmp) / "pandas" / "effects.csv")
        right = pd.read_csv(Path(tmp) / "spark" / "effects.csv")
        numeric = [c for c in left.columns
                   if pd.api.types.is_float_dtype(left[c]) and left[c].notna().any()]
        worst = max(float(np.nanmax(np.abs(right[c] - left[c]) / np.maximum(np.abs(left[c]),
                                                                               1e-300)))
                    for c in numeric)
    print(f"\n{'engine':>8} {'seconds':>8} {'peak MB':>8}")
    for engine, (seconds, peak) in figures.items():
        print(f"{engine:>8} {seconds:>8.1f} {peak:>8,.0f}")
    (ps, pm), (ss, sm) = figures["pandas"], figures["spark"]
    print(f"spark / pandas: time {ss / ps:.2f}x, peak memory {sm / pm:.2f}x "
          f"({args.master}, {psutil.cpu_count()} CPUs)")
    print(f"largest relative difference between the two reports' effects: {worst:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
