"""Benchmark: `botify train` on 1,000,000 synthetic events (planted structure), stage by stage.

Generates logs (10,000 users, 50,000 tracks by default), writes them as a rotated log, then times
reading them and training each model with its default settings, writing the artifacts as
`botify train` does. Prints seconds per stage and each stage relative to reading the logs (the
baseline measured in the same run, since the machine is shared). `--evaluate` also scores the
models on a holdout by time (fitting them a second time, on the older 80%), with the catalog of
the planted world (artist and genre per track) as side features.

    .venv/bin/python bench/bench_train.py [--events 1000000] [--users 10000] [--tracks 50000]
        [--models NAME ...] [--evaluate]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from botify.training.artifacts import write_artifact, write_jsonl
from botify.training.dataset import load_events, session_events
from botify.training.evaluation import format_table
from botify.training.pipeline import TrainSettings, fit_models, run_evaluation
from botify.training.synthetic import (
    catalog_records,
    generate_events,
    planted_world,
    write_event_log,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch and ALS threads")
    parser.add_argument("--evaluate", action="store_true")
    parser.add_argument("--models", nargs="+", metavar="MODEL",
                        help="the models to train (default: botify train's default models)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        logs, out = Path(tmp) / "logs", Path(tmp) / "out"
        started = time.perf_counter()
        world = planted_world(args.users, args.tracks, args.groups, rng=args.seed)
        generated = generate_events(world, args.events, rng=args.seed + 1)
        write_event_log(generated, logs, lines_per_file=len(generated) // 4 + 1)
        print(f"generated {len(generated):,} events in {time.perf_counter() - started:.1f} s")
        del generated

        stages: dict[str, float] = {}
        started = time.perf_counter()
        events = load_events([logs])
        stages["read logs"] = time.perf_counter() - started
        started = time.perf_counter()
        sessions = session_events(events)
        stages["sessions"] = time.perf_counter() - started

        catalog = Path(tmp) / "tracks.jsonl"
        write_jsonl(catalog, catalog_records(world))
        models = {} if args.models is None else {"models": args.models}
        settings = TrainSettings(seed=args.seed, threads=args.threads, progress=not args.quiet,
                                 catalog=catalog, **models)
        clock = [time.perf_counter()]

        def written(name, artifact) -> None:
            write_artifact(out, name, artifact)
            now = time.perf_counter()
            stages[name] = now - clock[0]
            clock[0] = now

        train_started = time.perf_counter()
        fit_models(sessions, settings, on_artifact=written)
        train_total = time.perf_counter() - train_started

        base = stages["read logs"]
        print(f"\n{'stage':<12} {'seconds':>8} {'x read':>7}")
        for name, seconds in stages.items():
            print(f"{name:<12} {seconds:8.1f} {seconds / base:7.1f}")
        total = sum(stages.values())
        print(f"{'train':<12} {train_total:8.1f} {train_total / base:7.1f}  "
              f"({', '.join(settings.models)})")
        print(
            f"{'total':<12} {total:8.1f} {total / base:7.1f}  ({len(events) / total:,.0f} events/s)"
        )
        sys.stdout.flush()

        if args.evaluate:
            started = time.perf_counter()
            results = run_evaluation(events, settings, k=10)
            print(f"\nevaluation ({time.perf_counter() - started:.1f} s):")
            print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
