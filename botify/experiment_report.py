"""Day 2 of ``botify experiment``: the A/B analysis, and each treatment against the oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from botify.analysis import columns as col

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
    users: pd.DataFrame, treatments: pd.DataFrame, oracle: pd.Series
) -> pd.DataFrame:
    """Each treatment's mean session time next to the oracle's on the same users.

    Args:
        users: per-user metrics of the analysis (``user, treatment, mean_time_per_session``...).
        treatments: the analysis's treatments (``treatment, recommender``).
        oracle: the oracle's mean session time per user.

    Returns:
        ``treatment, recommender, users, mean_time_per_session, oracle, percent_of_oracle``, best
        first.
    """
    served = dict(zip(treatments[col.TREATMENT], treatments[col.RECOMMENDER], strict=True))
    rows = []
    for treatment, group in users.groupby(col.TREATMENT, sort=False):
        both = group[group[col.USER].isin(oracle.index)]
        mean = float(both[col.MEAN_TIME_PER_SESSION].mean()) if len(both) else np.nan
        ceiling = float(oracle.loc[both[col.USER]].mean()) if len(both) else np.nan
        rows.append(
            {
                col.TREATMENT: treatment,
                col.RECOMMENDER: served.get(treatment, ""),
                "users": len(both),
                col.MEAN_TIME_PER_SESSION: round(mean, 3),
                "oracle": round(ceiling, 3),
                "percent_of_oracle": round(100 * mean / ceiling, 1) if ceiling else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values("percent_of_oracle", ascending=False, ignore_index=True)


def report_day2(
    world_dir: Path,
    out: Path,
    experiment: str,
    recommenders: tuple[str, ...],
    sessions: int,
    seed: int,
) -> pd.DataFrame:
    """Analyze day 2's logs, write the report into ``out`` and print the tables.

    ``sessions`` and ``seed`` are what the simulator played on day 2, which the oracle replays.

    Returns:
        The oracle comparison (also written to ``out/oracle.csv`` and into the report).
    """
    from botify.analysis.analyze import analyze
    from botify.analysis.report import effects_table, write_report
    from botify.events import read_events

    analysis = analyze(
        read_events([out / "logs" / "day2"]), experiment, configured=list(recommenders)
    )
    oracle = oracle_session_times(world_dir, sessions, seed, day=2)
    table = against_oracle(analysis.users, analysis.treatments, oracle)
    write_report(analysis, out, extra={ORACLE_TITLE: table})
    table.to_csv(out / ORACLE_CSV, index=False)
    for warning in analysis.warnings:
        print(f"WARNING: {warning}")
    print(effects_table(analysis))
    print(f"\n{ORACLE_TITLE}:")
    print(table.to_string(index=False))
    return table
