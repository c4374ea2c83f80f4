"""Benchmark of the A/B analysis: the full report on 1,000,000 events, and sessionize against the
course notebook's row-by-row version on the same 100,000 events.

Targets: full report < 10 s; vectorized sessionize >= 50x the course's. Prints figures;
asserts nothing (house rule: performance lives in bench/, not in timed tests).

    .venv/bin/python bench/bench_analysis.py [--events 1000000] [--baseline-events 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pandas as pd

from botify.analysis import columns as col
from botify.analysis.analyze import analyze, experiment_assignment
from botify.analysis.report import write_report
from botify.analysis.sessions import sessionize_events
from botify.analysis.synthetic import generate_events, write_events
from botify.events import read_events

# The course notebook's sessionize, as it was (a namedtuple per row, iterrows per group).
Session = namedtuple("Session", ["timestamp", "tracks", "time", "latency"])


def course_sessionize(user_data: pd.DataFrame) -> list[dict]:
    sessions = []
    session = None
    for _, row in user_data.sort_values("timestamp").iterrows():
        if session is None:
            session = Session(row["timestamp"], 0, 0, 0)
        session = session._replace(
            tracks=session.tracks + 1,
            time=session.time + row["time"],
            latency=session.latency + row["latency"] * 1000,
        )
        if row["message"] == "last":
            sessions.append(session._asdict())
            session = None
    return sessions


def course_sessions(data: pd.DataFrame) -> pd.DataFrame:
    # pandas 3 no longer passes the grouping columns to apply; the function does not use them.
    return (
        data.groupby(["user", "treatment"])
        .apply(course_sessionize, include_groups=False)
        .explode()
        .dropna()
        .apply(pd.Series)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=100_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # About 30 events per user with these settings: aim at the requested count.
        frame = generate_events(
            max(args.events // 30, 10), recommenders=("random", "sticky", "ranker"), seed=1,
            time_effects={"T1": 1.05, "T2": 1.1}, sessions_per_user=3.0, tracks_per_session=9.0,
            open_sessions=0.05,
        ).head(args.events)
        log = write_events(frame, root / "log" / "data.jsonl")
        size_mb = log.stat().st_size / 1e6
        print(f"events: {len(frame):,} ({size_mb:.0f} MB of JSON lines)")

        start, cpu = time.perf_counter(), time.process_time()
        events = read_events([log])
        read_s = time.perf_counter() - start
        analysis = analyze(events, "AB", configured=["random", "sticky", "ranker"])
        analyze_s = time.perf_counter() - start - read_s
        write_report(analysis, root / "report")
        total_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        print(f"full report: {total_s:.2f} s wall, {cpu_s:.2f} s CPU (read {read_s:.2f} s, "
              f"analyze {analyze_s:.2f} s, write report + plots "
              f"{total_s - read_s - analyze_s:.2f} s) [target < 10 s]")

    sample = events.head(args.baseline_events).copy()
    sample["treatment"] = experiment_assignment(sample, "AB")
    treatment = sample["treatment"].to_numpy()
    start = time.perf_counter()
    ours = sessionize_events(sample, treatment).table
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    theirs = course_sessions(sample)
    theirs_s = time.perf_counter() - start
    same = (
        len(ours) == len(theirs)
        and int(ours[col.TRACKS].sum()) == int(theirs["tracks"].sum())
        and np.isclose(ours[col.TIME].sum(), theirs["time"].astype(float).sum())
        and np.isclose(ours[col.LATENCY].sum(), theirs["latency"].astype(float).sum())
    )
    print(f"sessionize {len(sample):,} events: vectorized {ours_s * 1000:.1f} ms, course "
          f"row-by-row {theirs_s:.2f} s: {theirs_s / ours_s:.0f}x faster [target >= 50x]; "
          f"same sessions: {same}")


if __name__ == "__main__":
    main()
