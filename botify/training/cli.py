"""``botify train`` and ``botify evaluate``: offline models from event logs."""

from __future__ import annotations

import argparse
import sys

from botify.errors import ConfigError
from botify.registry import MODELS
from botify.training.model import default_models
from botify.training.names import LEADERBOARD_BASELINES, TORCH_THREADS

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
    train_parser.add_argument(
        "--engine", choices=("pandas", "spark"), default="pandas",
        help="pandas in this process (default), or Spark for top_tracks, i2i_cooc (without the "
        "catalog's appeal) and als (MLlib): the same artifact formats, logs of any size",
    )
    train_parser.add_argument("--master", help="the Spark master with --engine spark "
                              "(default local[*]; spark://host:7077, yarn, ...)")
    train_parser.set_defaults(func=_train)

    evaluate_parser = subparsers.add_parser(
        "evaluate",
        help="score the offline models against top_pop and random on a holdout by time",
        description="Fit the models on the older sessions, score them on the newer ones, print a "
        "table and write OUT/evaluation.json.",
    )
    # --logs and --out are checked in _evaluate: a leaderboard reads neither
    _common(evaluate_parser, required=False)
    _leaderboard_options(evaluate_parser)
    evaluate_parser.set_defaults(func=lambda args: _evaluate(args, evaluate_parser))


def _common(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--logs", nargs="+", required=required, metavar="PATH",
        help="event log files or directories",
    )
    parser.add_argument("--out", required=required, metavar="DIR", help="output directory")
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
        help="a listen is a positive when time > THRESHOLD: MultiDAE, ALS and liked feedback, "
        "i2i_cooc's anchors with --catalog, and relevance in the evaluation (default 0.8)",
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


def _leaderboard_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "leaderboard for a class",
        "--split hidden writes OUT/public (hashed training log, test users, public holdout) for "
        "the students and OUT/private for the teacher; --leaderboard scores submissions on it",
    )
    group.add_argument(
        "--split",
        choices=["hidden"],
        help="write a hidden split of --logs into --out instead of evaluating",
    )
    group.add_argument(
        "--salt",
        help="with --split hidden: the secret the user ids are hashed with (default: a random "
        "one, kept in OUT/private/split.json)",
    )
    group.add_argument(
        "--leaderboard",
        metavar="DIR",
        help="score --submissions on the hidden split in DIR (print the board, write "
        "DIR/leaderboard.json); --models: the per-user baselines to train (default: "
        f"{' '.join(LEADERBOARD_BASELINES)})",
    )
    group.add_argument(
        "--submissions",
        nargs="+",
        metavar="PATH",
        default=[],
        help="with --leaderboard: per-user JSONL files named after their authors, or "
        "directories of them",
    )


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
    if args.engine == "spark":
        return _train_on_spark(args)
    if args.master is not None:
        raise ConfigError("--master goes with --engine spark")
    events = load_events(args.logs)
    written = train(events, args.out, settings)
    for name, path in written.items():
        print(f"{name}: {path}")
    if args.evaluate:
        _print_evaluation(args, settings, events)
    return 0


def _train_on_spark(args: argparse.Namespace) -> int:
    from botify.training.spark import MODELS, train_on_spark

    if args.evaluate or args.catalog:
        raise ConfigError("--evaluate and --catalog go with the pandas engine")
    say = (lambda line: None) if args.quiet else print
    written = train_on_spark(args.logs, args.out, args.models or MODELS, master=args.master,
                             seed=args.seed, threshold=args.threshold, say=say)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def _evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from botify.training.dataset import load_events

    if args.split is not None and args.leaderboard is not None:
        parser.error("--split and --leaderboard are two steps: give one of them")
    if args.leaderboard is not None:
        if args.logs is not None or args.out is not None or args.salt is not None:
            parser.error("--leaderboard reads its split: no --logs, --out or --salt")
        return _leaderboard(args)
    if args.submissions:
        parser.error("--submissions needs --leaderboard DIR")
    missing = [flag for flag in ("logs", "out") if getattr(args, flag) is None]
    if missing:
        parser.error(f"the following arguments are required: --{', --'.join(missing)}")
    if args.split is not None:
        return _hidden_split(args)
    if args.salt is not None:
        parser.error("--salt needs --split hidden")
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


def _hidden_split(args: argparse.Namespace) -> int:
    from botify.training.dataset import load_events
    from botify.training.leaderboard import (
        existing_split,
        hidden_split,
        new_salt,
        write_hidden_split,
    )

    # rewriting a split keeps its salt: the hashed ids the students have stay valid
    existing = existing_split(args.out)
    salt = args.salt if args.salt is not None else (existing or {}).get("salt") or new_salt()
    split = hidden_split(
        load_events(args.logs),
        salt,
        seed=args.seed,
        test_fraction=args.test_fraction,
        threshold=args.threshold,
    )
    written = write_hidden_split(split, args.out)
    counts = split.counts()
    print(
        f"hidden split: {counts['train_events']} training events of {counts['train_users']} "
        f"users; {counts['test_users']} test users, {counts['public_users']} public, "
        f"{counts['private_users']} private"
    )
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from botify.training.leaderboard import (
        check_baseline_models,
        format_leaderboard,
        leaderboard,
        submission_files,
        write_leaderboard,
    )

    if args.models is None:
        args.models = list(LEADERBOARD_BASELINES)
    check_baseline_models(args.models)
    submissions = submission_files(args.submissions)
    board = leaderboard(args.leaderboard, submissions, _settings(args), k=args.k)
    print(format_leaderboard(board))
    print(f"leaderboard: {write_leaderboard(board, args.leaderboard)}")
    sys.stdout.flush()
    if board.rejected:
        names = ", ".join(row.name for row in board.rejected)
        print(
            f"botify evaluate: error: {len(board.rejected)} submission(s) rejected ({names}), "
            "the reasons under the board",
            file=sys.stderr,
        )
        return 2
    return 0
