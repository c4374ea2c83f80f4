"""The reports of ``botify experiment``: each analyzed day's A/B analysis against the oracle, and
the run's summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from botify.analysis import columns as col
from botify.experiment.plan import Day, Plan

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
ORACLE_CSV = "oracle.csv"
ORACLE_TITLE = "Against the oracle (the simulator's ceiling, on the same users and sessions)"


def oracle_session_times(world_dir: Path, sessions: int, seed: int, day: int) -> pd.Series:
    """Mean session time per user of the in-process oracle on the sessions the simulator played.

    The simulator plans day ``day`` of a run seeded with ``seed`` (what ``python -m sim.run --seed S
    --first-day D`` played against the service); the oracle replays exactly those sessions.
    """
    from sim.agents.oracle import OracleAgent
    from sim.envs.session import plan_sessions
    from sim.rollout import run_episodes
    from sim.run import day_seed
    from sim.world.files import load_world

    world = load_world(world_dir)
    plan_seed, _ = day_seed(seed, day).spawn(2)
    results = run_episodes(world, OracleAgent(world), plan_sessions(world, sessions, plan_seed))
    frame = pd.DataFrame({col.USER: results.users, col.TIME: results.rewards})
    return frame.groupby(col.USER)[col.TIME].mean()


def against_oracle(
    users: pd.DataFrame, treatments: pd.DataFrame, oracle: pd.Series, alpha: float = 0.05
) -> pd.DataFrame:
    """Each treatment's mean session time next to the oracle's on the same users.

    The share is a ratio of two means over the same users, so its interval comes from the delta
    method on the per-user pairs (the arm's mean session time, the oracle's):
    ``percent ± z(1 - alpha / 2) × 100 × standard error`` (``ratio.RatioStats``).

    Args:
        users: per-user metrics of the analysis (``user, treatment, mean_time_per_session``...).
        treatments: the analysis's treatments (``treatment, recommender``).
        oracle: the oracle's mean session time per user.
        alpha: one minus the interval's confidence.

    Returns:
        ``treatment, recommender, users, mean_time_per_session, oracle, percent_of_oracle,
        ci_low, ci_high`` (the interval of the percentage), best first.
    """
    from scipy.stats import norm

    from botify.analysis.ratio import RatioStats

    served = dict(zip(treatments[col.TREATMENT], treatments[col.RECOMMENDER], strict=True))
    z = float(norm.ppf(1 - alpha / 2))
    rows = []
    for treatment, group in users.groupby(col.TREATMENT, sort=False):
        both = group[group[col.USER].isin(oracle.index)]
        pairs = RatioStats.of(both[col.MEAN_TIME_PER_SESSION].to_numpy(dtype=np.float64),
                              oracle.loc[both[col.USER]].to_numpy(dtype=np.float64))
        mean = pairs.numerator_mean if pairs.n else np.nan
        ceiling = pairs.denominator_mean if pairs.n else np.nan
        half = 100 * z * pairs.standard_error
        rows.append(
            {
                col.TREATMENT: treatment,
                col.RECOMMENDER: served.get(treatment, ""),
                "users": len(both),
                col.MEAN_TIME_PER_SESSION: round(mean, 3),
                "oracle": round(ceiling, 3),
                "percent_of_oracle": round(100 * pairs.ratio, 1),
                "ci_low": round(100 * pairs.ratio - half, 1),
                "ci_high": round(100 * pairs.ratio + half, 1),
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values("percent_of_oracle", ascending=False, ignore_index=True)


def report_day(plan: Plan, day: Day, world_dir: Path, seed: int) -> dict[str, Any]:
    """Analyze a day's logs into ``OUT/dayN/`` and print its tables.

    With the plan's ``oracle``, the oracle replays the sessions the simulator played that day.

    Returns:
        For the run summary: per arm, its treatment, mean session time, effect on it against the
        control and whether it is significant (after the plan's correction), and the oracle's share.
    """
    from botify.analysis.analyze import analyze
    from botify.analysis.guardrails import parse_guardrails
    from botify.analysis.looks import parse_looks
    from botify.analysis.report import effects_table, write_report
    from botify.events import read_events

    out = plan.out / f"day{day.number}"
    logs = plan.out / "logs"
    pre = read_events([logs / f"day{n}" for n in plan.analysis.pre]) if plan.analysis.pre else None
    settings = plan.analysis
    analysis = analyze(
        read_events([logs / f"day{day.number}"]), day.experiment, configured=list(day.arms),
        alpha=settings.alpha, pre_events=pre, metrics=settings.metrics,
        primary=settings.primary, guardrails=parse_guardrails(settings.guardrails,
                                                              settings.primary),
        sequential=settings.sequential, looks=parse_looks(settings.looks),
    )
    extra = {}
    oracle = None
    if plan.oracle:
        ceiling = oracle_session_times(world_dir, day.sessions, seed, day=day.number)
        oracle = against_oracle(analysis.users, analysis.treatments, ceiling,
                                alpha=settings.alpha)
        extra[ORACLE_TITLE] = oracle
    write_report(analysis, out, extra=extra)
    if oracle is not None:
        oracle.to_csv(out / ORACLE_CSV, index=False)
    for warning in analysis.warnings:
        print(f"WARNING: {warning}")
    print(f"\nday {day.number} ({day.experiment}):")
    print(effects_table(analysis))
    if oracle is not None:
        print(f"\n{ORACLE_TITLE}:")
        print(oracle.to_string(index=False))
    return _arms(analysis, plan.analysis.correction, oracle)


def _arms(analysis, correction: str, oracle: pd.DataFrame | None) -> dict[str, Any]:
    significant = col.SIGNIFICANT_HOLM if correction == "holm" else col.SIGNIFICANT
    effects = analysis.effects[analysis.effects[col.METRIC] == col.MEAN_TIME_PER_SESSION]
    effects = effects.set_index(col.TREATMENT)
    decisions = analysis.decisions.set_index(col.TREATMENT)
    means = analysis.users.groupby(col.TREATMENT)[col.MEAN_TIME_PER_SESSION].mean()
    shares = {} if oracle is None else dict(zip(oracle[col.TREATMENT],
                                                oracle["percent_of_oracle"], strict=True))
    rows = {}
    for treatment, recommender in zip(analysis.treatments[col.TREATMENT],
                                      analysis.treatments[col.RECOMMENDER], strict=True):
        row = {"treatment": treatment,
               col.MEAN_TIME_PER_SESSION: _number(means.get(treatment))}
        if treatment in effects.index:
            row["effect"] = _number(effects.loc[treatment, col.EFFECT])
            row["significant"] = bool(effects.loc[treatment, significant])
        if treatment in decisions.index:  # on the plan's primary metric, with its guardrails
            row["decision"] = decisions.loc[treatment, col.DECISION]
            row["reason"] = decisions.loc[treatment, col.REASON]
        if treatment in shares:
            row["percent_of_oracle"] = _number(shares[treatment])
        rows[recommender] = row
    return rows


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 3)


def write_summary(
    plan: Plan,
    reports: dict[int, dict[str, Any]],
    out: Path,
    offline: dict[int, dict[str, Any]] | None = None,
    reads: dict[str, dict[str, str]] | None = None,
) -> str:
    """Write ``OUT/summary.json`` and ``OUT/summary.md``: every day, its arms and, for analyzed
    days, their mean session time, effect and oracle share; with ``offline`` (the offline scores
    of each training step, by day) and ``reads`` (the artifacts of each arm), the trained arms'
    offline scores beside their effects (:mod:`botify.experiment.offline`). Returns the
    Markdown."""
    from botify.experiment import offline as versus
    from botify.files import atomic_write_text

    offline = offline or {}
    days = []
    lines = [f"# {plan.path.name}: run summary", ""]
    for day in plan.days:
        arms = reports.get(day.number)
        days.append({"day": day.number, "experiment": day.experiment, "sessions": day.sessions,
                     "analyzed": day.analyze, "control": day.arms[0],
                     "trained": list(day.train.models) if day.train else [],
                     "sized": day.sizing.said if day.sizing else None,
                     "arms": arms if arms is not None else {arm: {} for arm in day.arms}})
        trained = f"; trained before it: {', '.join(day.train.models)}" if day.train else ""
        lines.append(f"## Day {day.number} ({day.experiment}): {day.sessions} sessions{trained}")
        lines.append("")
        if day.sizing:
            lines += [f"Sessions {day.sizing.said}.", ""]
        if arms is None:
            lines += [f"Arms: {', '.join(day.arms)} (not analyzed).", ""]
            continue
        lines += ["| arm | treatment | mean session time | effect vs control | significant "
                  "| % of oracle |", "| --- | --- | ---: | ---: | --- | ---: |"]
        for arm in day.arms:
            row = arms.get(arm, {})
            effect, mean = row.get("effect"), row.get(col.MEAN_TIME_PER_SESSION)
            lines.append(
                f"| {arm} | {row.get('treatment', '')} | {_cell(mean)} "
                f"| {'control' if arm == day.arms[0] else _percent(effect)} "
                f"| {'' if arm == day.arms[0] else ('yes' if row.get('significant') else 'no')} "
                f"| {_decimal(row.get('percent_of_oracle'))} |"
            )
        lines.append("")
        trained = [number for number in offline if number <= day.number]
        if trained:
            comparison = versus.against_online(arms, reads or {}, offline[max(trained)],
                                               control=day.arms[0])
            days[-1]["offline_vs_online"] = comparison
            lines += versus.markdown(comparison, trained_before=max(trained))
    text = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / SUMMARY_JSON, json.dumps({"plan": str(plan.path), "days": days},
                                                     indent=2))
    atomic_write_text(out / SUMMARY_MD, text + "\n")
    return text


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}%"
