"""``botify experiment PLAN``: run an experiment plan (``make demo``: ``experiments/demo.toml``)."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from botify.errors import ConfigError

DEFAULT_PLAN = Path("experiments") / "demo.toml"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``experiment``."""
    from botify.experiment import run

    parser = subparsers.add_parser(
        "experiment",
        help="run an experiment plan: world, days of simulated traffic, training, A/B reports",
        description=run.__doc__.split("\n\n")[0] + " The options override the plan.",
    )
    defaults = run.RunOptions()
    parser.add_argument("plan", nargs="?", type=Path, default=DEFAULT_PLAN,
                        help=f"the plan file (TOML; default {DEFAULT_PLAN})")
    parser.add_argument("--quick", action="store_true",
                        help="the same steps at small sizes (about a minute)")
    parser.add_argument("--seed", type=int, help="seed of the world, every day and training "
                        "(default: the plan's world seed)")
    parser.add_argument("--out", type=Path, help="output directory (default: the plan's)")
    parser.add_argument("--worlds", type=Path, default=defaults.worlds,
                        help=f"where generated worlds are kept ({defaults.worlds})")
    parser.add_argument("--processes", type=int, default=defaults.processes,
                        help=f"simulator processes ({defaults.processes})")
    parser.add_argument("--redis-cluster", type=int, default=0, metavar="MASTERS",
                        help="run the service on a private Redis Cluster of MASTERS masters "
                        "instead of one redis-server")
    parser.add_argument("--check", action="store_true",
                        help="only check the plan (exit 0 when it is valid)")
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Handler of ``botify experiment``."""
    from botify.experiment.plan import load_plan
    from botify.experiment.run import RunOptions, run_plan
    from botify.store.redis_cluster import check_masters

    if args.processes < 1:
        raise ConfigError(f"--processes must be at least 1, got {args.processes}")
    check_masters(args.redis_cluster)
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed must be at least 0, got {args.seed}")
    plan = load_plan(args.plan)
    if args.check:
        print(f"{args.plan}: {len(plan.days)} day(s), analyzed: "
              f"{', '.join(str(d.number) for d in plan.analyzed) or 'none'}; ok")
        return 0
    options = RunOptions(seed=args.seed, out=args.out, worlds=args.worlds,
                         processes=args.processes, quick=args.quick,
                         redis_cluster=args.redis_cluster)
    # A SIGTERM (a `timeout`, a CI runner) stops it as Ctrl-C does: everything it started is
    # stopped, not left running in its own session.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_plan(plan, options)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
