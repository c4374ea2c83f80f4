"""Benchmark of ``botify dashboard`` on a log of 1,000,000 events: the first render, each refresh
as the log grows (bursts of events, a rotation among them), and the memory it keeps.

Targets: first render < 10 s, each refresh < 1 s, memory bounded (no event kept: a few numbers per
session). Also times what a refresh would cost by recomputing ``analyze()`` on every event, and
checks that the dashboard's numbers are the analysis's. Prints figures; asserts nothing (house
rule: performance lives in bench/, not in timed tests).

    .venv/bin/python bench/bench_dashboard.py [--events 1000000] [--burst 10000] [--refreshes 10]
"""

from __future__ import annotations

import argparse
import gc
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from botify.analysis.analyze import analyze
from botify.analysis.synthetic import generate_events, write_events
from botify.dashboard.app import create_app
from botify.dashboard.state import Dashboard
from botify.events import read_events

RECOMMENDERS = ("random", "sticky", "ranker")


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e3
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--burst", type=int, default=10_000, help="events appended per refresh")
    parser.add_argument("--refreshes", type=int, default=10)
    parser.add_argument("--follow", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.follow:
        follow(args.follow, args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        logs = root / "log"
        logs.mkdir()
        # About 30 events per user with these settings (as bench_analysis.py): aim at the count.
        settings = dict(recommenders=RECOMMENDERS, seed=1, time_effects={"T1": 1.05, "T2": 1.1},
                        sessions_per_user=3.0, tracks_per_session=9.0, open_sessions=0.05)
        n_users = max(args.events // 30, 10)
        frame = generate_events(n_users, **settings).head(args.events)
        write_events(frame, logs / "data.bench.1.jsonl")
        size_mb = (logs / "data.bench.1.jsonl").stat().st_size / 1e6
        print(f"events: {len(frame):,} ({size_mb:.0f} MB of JSON lines)")
        # The growth: the next day's sessions of the same users, in bursts.
        write_events(generate_events(n_users, period=1, **settings), root / "later.jsonl")
        del frame
        # The dashboard in a fresh process, so that its memory is its own.
        subprocess.run([sys.executable, __file__, "--follow", str(root), "--burst",
                        str(args.burst), "--refreshes", str(args.refreshes)], check=True)


def follow(root: Path, args: argparse.Namespace) -> None:
    """The measurements, on the log under ``root/log`` growing by ``root/later.jsonl``."""
    logs = root / "log"
    with open(root / "later.jsonl", "rb") as handle:
        later = [line for _, line in zip(range(args.burst * args.refreshes), handle,
                                         strict=False)]
    gc.collect()
    baseline = _rss_mb()
    dashboard = Dashboard(logs, "AB")
    client = create_app(dashboard).test_client()
    start, cpu = time.perf_counter(), time.process_time()
    dashboard.refresh()
    taken_s = time.perf_counter() - start
    page = client.get("/api/state")
    first_s, first_cpu = time.perf_counter() - start, time.process_time() - cpu
    first_rss = _rss_mb()
    print(f"first render: {first_s:.2f} s wall, {first_cpu:.2f} s CPU (read and sessionize "
          f"{taken_s:.2f} s, statistics and JSON {first_s - taken_s:.2f} s; "
          f"{len(page.data) / 1e3:.0f} kB of JSON) [target < 10 s]")

    times = []
    current = logs / "data.bench.1.jsonl"
    for number in range(args.refreshes):
        burst = later[number * args.burst : (number + 1) * args.burst]
        if not burst:
            break
        if number == args.refreshes // 2:  # the writer rotates: the .1 is not read again
            current.rename(logs / "data.bench.1.jsonl.1")
        with open(current, "ab") as handle:
            handle.write(b"".join(burst))
        start = time.perf_counter()
        dashboard.refresh()
        client.get("/api/state")
        times.append(time.perf_counter() - start)
    state = dashboard.snapshot()
    print(f"refresh (+{args.burst:,} events each, {len(times)} times, a rotation among them): "
          f"mean {sum(times) / len(times):.3f} s, max {max(times):.3f} s [target < 1 s]")
    start = time.perf_counter()
    dashboard.refresh()
    client.get("/api/state")
    print(f"refresh with nothing new: {(time.perf_counter() - start) * 1000:.0f} ms")
    kept = dashboard.experiments["AB"]
    print(f"memory (RSS): {baseline:.0f} MB at start (with the bursts to append), "
          f"{first_rss:.0f} MB after the first render, {_rss_mb():.0f} MB after the "
          f"refreshes, peak {_peak_mb():.0f} MB; "
          f"kept: "
          f"{kept.closed.length:,} closed sessions, {len(kept.open['user']):,} open, "
          f"no event")

    start = time.perf_counter()
    events = read_events([logs])
    read_s = time.perf_counter() - start
    analysis = analyze(events, "AB")
    analyze_s = time.perf_counter() - start - read_s
    print(f"recomputing instead: read_events {read_s:.2f} s + analyze {analyze_s:.2f} s on "
          f"{len(events):,} events per refresh")
    effects = analysis.effects[analysis.effects["metric"] == "mean_time_per_session"]
    rows = {row["treatment"]: row for row in state["treatments"]}
    same = state["events"] == len(events) and all(
        math.isclose(rows[e["treatment"]][key], e[key], rel_tol=1e-9)
        for e in effects.to_dict("records") for key in ("effect", "lower", "upper")
    ) and all(
        rows[t["treatment"]]["users"] == t["users"]
        and rows[t["treatment"]]["sessions"] == t["sessions"]
        for t in analysis.treatments.to_dict("records")
    )
    print(f"same numbers as analyze(): {same}")


if __name__ == "__main__":
    main()
