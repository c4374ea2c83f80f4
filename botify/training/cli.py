"""``botify train`` and ``botify evaluate``: offline models from event logs."""

from __future__ import annotations

import argparse
import sys

from botify.registry import MODELS
from botify.training.model import default_models
from botify.training.names import TORCH_THREADS

# The models (torch, implicit) are imported when a command runs, not when the parser is built.


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``evaluate`` subcommands."""
    train_parser = subparsers.add_parser(
        "train",
        help="train the offline models from event logs and write their artifacts",
        description="Train the models (by default popularity, co-occurrence, the contextual "
        "ranker, MultiDAE and ALS) from event logs; write OUT/<name>.jsonl for `botify load recs`.",
    )
    _common(train_parser)
    train_parser.add_argument(
        "--evaluate",
        action="store_true",
        help="also score the models on a holdout by time (table, OUT/evaluation.json)",
    )
    train_parser.set_defaults(func=_train)

    evaluate_parser = subparsers.add_parser(
        "evaluate",
        help="score the offline models against top_pop and random on a holdout by time",
        description="Fit the models on the older sessions, score them on the newer ones, print a "
        "table and write OUT/evaluation.json.",
    )
    _common(evaluate_parser)
    evaluate_parser.set_defaults(func=_evaluate)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--logs", nargs="+", required=True, metavar="PATH", help="event log files or directories"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--epochs", type=_positive, default=None, help="epochs of the ranker and MultiDAE"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help=f"models to train: {', '.join(MODELS.names())}, or an import path module:Class "
        f"(default: {' '.join(default_models())})",
    )
    parser.add_argument(
        "--k", type=_positive, default=10, help="cutoff of the offline metrics (default 10)"
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of the newest events held out for evaluation (default 0.2)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.8,
        help="a listen is a positive when time > THRESHOLD: MultiDAE and ALS feedback, and "
        "relevance in the evaluation (default 0.8)",
    )
    parser.add_argument(
        "--threads",
        type=_positive,
        default=TORCH_THREADS,
        help=f"PyTorch and ALS threads (default {TORCH_THREADS})",
    )
    parser.add_argument(
        "--catalog",
        metavar="FILE",
        help="tracks JSONL: artists and genres as side features (i2i_cooc and ranker list every "
        "track) and for the evaluation's artist and genre diversity",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _settings(args: argparse.Namespace):
    from botify.training.pipeline import TrainSettings

    return TrainSettings(
        seed=args.seed,
        **({} if args.models is None else {"models": args.models}),
        epochs=args.epochs,
        threads=args.threads,
        threshold=args.threshold,
        catalog=args.catalog,
        progress=not args.quiet,
    )


def _train(args: argparse.Namespace) -> int:
    from botify.training.dataset import load_events
    from botify.training.pipeline import train

    settings = _settings(args)
    events = load_events(args.logs)
    written = train(events, args.out, settings)
    for name, path in written.items():
        print(f"{name}: {path}")
    if args.evaluate:
        _print_evaluation(args, settings, events)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from botify.training.dataset import load_events

    settings = _settings(args)
    _print_evaluation(args, settings, load_events(args.logs))
    return 0


def _print_evaluation(args: argparse.Namespace, settings, events) -> None:
    from botify.training.evaluation import format_table
    from botify.training.pipeline import run_evaluation, write_evaluation

    results = run_evaluation(events, settings, k=args.k, test_fraction=args.test_fraction)
    print(format_table(results))
    path = write_evaluation(results, args.out)
    print(f"evaluation: {path}")
    sys.stdout.flush()
