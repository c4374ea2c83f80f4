"""``botify analyze`` (the A/B report), ``botify aa-test`` (the statistical validity check)
and ``botify power`` (sample sizes)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import orjson

from botify.analysis import columns as col
from botify.analysis import metrics as mt
from botify.analysis.aa import BAND, aa_test
from botify.analysis.analyze import (
    ALPHA,
    CONTROL,
    analyze,
    analyze_sessions,
    experiment_assignment,
)
from botify.analysis.guardrails import DEFAULT_GUARDRAILS, parse_guardrails
from botify.analysis.looks import parse_looks
from botify.analysis.power import describe, parse_mde, plan_from_events
from botify.analysis.report import effects_table, write_report
from botify.analysis.segments import check_attribute, user_segments
from botify.analysis.sessions import sessionize_events, user_metrics
from botify.config import load_config
from botify.errors import ConfigError, DataError
from botify.events import EVENT_ID, audit, read_events
from botify.files import atomic_write_bytes


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` and ``aa-test`` subcommands."""
    parser = subparsers.add_parser(
        "analyze",
        help="A/B report of an experiment from event logs",
        description="Sessionize the logs, compare every treatment with the control (Welch "
        "intervals, SRM check, Holm, optional CUPED), check the guardrails, decide per treatment "
        "(ship, don't ship, inconclusive) and write the report into --out.",
    )
    parser.add_argument("logs", nargs="+", metavar="LOGS", help="log files or directories")
    parser.add_argument("--experiment", required=True, help="the experiment's name")
    parser.add_argument("--control", default=CONTROL, help="the control treatment (default C)")
    parser.add_argument("--alpha", type=float, default=ALPHA, help="significance level")
    parser.add_argument(
        "--pre", nargs="+", metavar="LOGS", help="an earlier period's logs: enables CUPED"
    )
    parser.add_argument("--out", required=True, type=Path, help="the report directory")
    parser.add_argument("--primary", default=mt.PRIMARY, metavar="METRIC",
                        help=f"the metric decisions are about (default {mt.PRIMARY})")
    parser.add_argument(
        "--guardrail", action="append", metavar="METRIC:MARGIN",
        help="a metric that may not get worse than MARGIN, on its harmful side: "
        "mean_request_latency:+1 (ms), sessions:-2%% (of the control mean); repeat for more; "
        "'none' for none (default: "
        + ", ".join(g.spec for g in DEFAULT_GUARDRAILS).replace("%", "%%") + ")",
    )
    parser.add_argument(
        "--segment", metavar="ATTR",
        help="also break every table down by a user attribute: new (returning users have "
        "events before the experiment, in LOGS or --pre), genre (of the user's first track, "
        "needs --catalog) or a CSV/JSON-lines file of user -> segment",
    )
    parser.add_argument("--catalog", type=Path, help="the tracks' catalog (for --segment genre)")
    parser.add_argument("--sequential", action="store_true",
                        help="add always-valid intervals; decisions and guardrails use them")
    parser.add_argument("--looks", metavar="N|day",
                        help="the primary metric after each of N equal slices of the "
                        "experiment's time (or each UTC day), fixed and always-valid intervals")
    parser.add_argument("--engine", choices=("pandas", "spark"), default="pandas",
                        help="who cuts the logs into sessions: pandas in this process (default) "
                        "or Spark (same report; for logs larger than memory)")
    parser.add_argument("--master", default=None,
                        help="the Spark master with --engine spark (default local[*]; "
                        "spark://host:7077, yarn, ...)")
    parser.set_defaults(func=run_analyze)

    parser = subparsers.add_parser(
        "aa-test",
        help="A/A test on resampled logs: the false-positive rate of the analysis",
        description="Re-split the users of the logs at random many times, analyze each split "
        "like an A/B test and report how often it is called significant; at alpha 0.05 the "
        f"pooled rate must fall within [{BAND[0]:.0%}, {BAND[1]:.0%}] (exit 1 otherwise).",
    )
    parser.add_argument("logs", nargs="+", metavar="LOGS", help="log files or directories")
    parser.add_argument("--experiment", help="keep only users of one treatment of it")
    parser.add_argument("--treatment", default=CONTROL, help="that treatment (default C)")
    parser.add_argument("--repetitions", type=int, default=1000, help="re-splits (>= 200)")
    parser.add_argument("--alpha", type=float, default=ALPHA, help="significance level")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    parser.set_defaults(func=run_aa_test)
    register_power(subparsers)


def register_power(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``power`` subcommand (sample sizes from a log's variance)."""
    parser = subparsers.add_parser(
        "power",
        help="users and sessions an experiment needs to detect an effect",
        description="Measure a metric's per-user variance in the logs and print the users per "
        "arm a two-sided z test needs to detect --mde with the given power (alpha split over "
        "the treatments, Bonferroni, safe for Holm), and the sessions at the logs' sessions per "
        "user; with --pre, the variance CUPED will leave.",
    )
    parser.add_argument("--logs", nargs="+", required=True, metavar="LOGS",
                        help="log files or directories whose users stand for the experiment's")
    parser.add_argument("--metric", required=True, help="a per-user or ratio metric")
    parser.add_argument("--mde", required=True,
                        help="minimum detectable effect: relative (5%%) or absolute (0.1)")
    parser.add_argument("--alpha", type=float, default=ALPHA, help="family-wise level")
    parser.add_argument("--power", type=float, default=0.8, help="power of each comparison")
    parser.add_argument("--treatments", type=int, default=1,
                        help="treatments compared with the control (default 1)")
    parser.add_argument("--pre", nargs="+", metavar="LOGS",
                        help="an earlier period's logs: the variance after CUPED")
    parser.set_defaults(func=run_power)


def _configured(experiment: str) -> list[str] | None:
    recommenders = load_config().get("EXPERIMENTS", {}).get(experiment)
    return list(recommenders) if isinstance(recommenders, list) and recommenders else None


def _log_warnings(counts: dict[str, int]) -> list[str]:
    """Gaps and duplicates among the event ids (:func:`botify.events.audit`): events lost, or
    logs read twice."""
    warnings = []
    if counts["gaps"]:
        warnings.append(f"{counts['gaps']} event(s) missing from the logs (gaps in the sequence "
                        "numbers of the event ids): a log file is missing?")
    if counts["duplicates"]:
        warnings.append(f"{counts['duplicates']} event(s) appear twice (the same id): the same "
                        "log read twice?")
    return warnings


def run_analyze(args: argparse.Namespace) -> int:
    """Handler of ``botify analyze``."""
    # Every option is checked before the logs are read.
    mt.check_metric(args.primary, "--primary metric")
    rails = parse_guardrails(args.guardrail, args.primary)
    looks = parse_looks(args.looks)
    if args.segment is not None:
        check_attribute(args.segment, args.catalog)
    if args.engine == "spark":
        return _analyze_on_spark(args, rails, looks)
    if args.master is not None:
        raise ConfigError("--master goes with --engine spark")
    events = read_events(args.logs)
    pre = read_events(args.pre) if args.pre else None
    segments = None
    if args.segment is not None:
        carried = np.array([t is not None for t in experiment_assignment(events, args.experiment)])
        if carried.any():
            segments = user_segments(args.segment, events, carried, pre_events=pre,
                                     catalog=args.catalog)
    analysis = analyze(
        events,
        args.experiment,
        control=args.control,
        alpha=args.alpha,
        pre_events=pre,
        configured=_configured(args.experiment),
        primary=args.primary,
        guardrails=rails,
        segments=segments,
        sequential=args.sequential,
        looks=looks,
    )
    _report(analysis, _log_warnings(audit(events[EVENT_ID].to_numpy(na_value=None))), args.out)
    return 0


def _analyze_on_spark(args: argparse.Namespace, rails, looks) -> int:
    """``botify analyze --engine spark``: the sessions by Spark, the statistics as always."""
    from botify.analysis import spark as engine

    if args.segment is not None or looks is not None:
        raise ConfigError("--segment and --looks need the events themselves: use the pandas "
                          "engine")
    with engine.spark_session(args.master or engine.DEFAULT_MASTER) as spark:
        events = engine.read_events(spark, args.logs)
        log = engine.sessionize_experiment(events, args.experiment)
        pre = engine.all_sessions(engine.read_events(spark, args.pre)) if args.pre else None
        counts = engine.id_audit(events)
    analysis = analyze_sessions(
        log, args.experiment, control=args.control, alpha=args.alpha, pre_sessions=pre,
        configured=_configured(args.experiment), primary=args.primary, guardrails=rails,
        sequential=args.sequential,
    )
    _report(analysis, _log_warnings(counts), args.out)
    return 0


def _report(analysis, log_warnings: list[str], out: Path) -> None:
    for warning in [*analysis.warnings, *log_warnings]:
        print(f"WARNING: {warning}", file=sys.stderr)
    print(effects_table(analysis))
    for metric, fit in analysis.cuped.items():
        print(f"CUPED {metric}: theta {fit.theta:.3g}, variance -{fit.variance_reduction:.1%}")
    write_report(analysis, out)
    print(f"report written to {out}")


def run_aa_test(args: argparse.Namespace) -> int:
    """Handler of ``botify aa-test``."""
    if args.repetitions < 1:
        raise DataError("--repetitions must be positive")
    events = read_events(args.logs)
    treatment = None
    if args.experiment:
        treatment = experiment_assignment(events, args.experiment)
        keep = np.array([t == args.treatment for t in treatment], dtype=bool)
        if not keep.any():
            raise DataError(f"no event of treatment {args.treatment!r} of {args.experiment!r}")
        events = events.loc[keep].reset_index(drop=True)
        treatment = treatment[keep].astype(str)
    users = user_metrics(sessionize_events(events, treatment).table)
    if len(users) < 4:
        raise DataError(f"too few users with a complete session for an A/A test ({len(users)})")
    result = aa_test(
        {metric: users[metric].to_numpy() for metric in col.METRICS},
        repetitions=args.repetitions,
        alpha=args.alpha,
        rng=args.seed,
    )
    print(f"A/A test: {result.users} users, {result.repetitions} random re-splits, "
          f"alpha {result.alpha}")
    print(f"{'metric':<26}{'false positives':>16}{'rate':>8}   95% interval")
    for metric in col.METRICS:
        low, high = result.interval(metric)
        print(f"{metric:<26}{result.false_positives[metric]:>16}{result.rate(metric):>8.3f}"
              f"   [{low:.3f}, {high:.3f}]")
    low, high = result.interval()
    verdict = "PASS" if result.passed else "FAIL"
    print(f"{'pooled':<26}{sum(result.false_positives.values()):>16}{result.rate():>8.3f}"
          f"   [{low:.3f}, {high:.3f}]")
    print(f"{verdict}: the pooled false-positive rate {result.rate():.2%} is "
          f"{'within' if result.passed else 'outside'} [{BAND[0]:.0%}, {BAND[1]:.0%}]")
    if args.out:
        _write_json(args.out / "aa_test.json", {
            "users": result.users,
            "repetitions": result.repetitions,
            "alpha": result.alpha,
            "false_positives": result.false_positives,
            "undefined": result.undefined,
            "rates": {m: result.rate(m) for m in result.false_positives},
            "pooled_rate": result.rate(),
            "band": list(BAND),
            "passed": result.passed,
        })
    return 0 if result.passed else 1


def run_power(args: argparse.Namespace) -> int:
    """Handler of ``botify power``."""
    mde, relative = parse_mde(args.mde)
    events = read_events(args.logs)
    pre = read_events(args.pre) if args.pre else None
    result = plan_from_events(
        events, args.metric, mde, relative, alpha=args.alpha, power=args.power,
        treatments=args.treatments, pre_events=pre,
    )
    print(describe(result, args.metric))
    return 0


def _write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, orjson.dumps(data, option=orjson.OPT_INDENT_2))
