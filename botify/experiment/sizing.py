"""Sizing a day before it runs (``sessions = "auto"``): as many sessions as its comparison needs.

The day before's log stands for the day's users: its per-user variance of the plan's primary
metric and its sessions per user give, by :func:`botify.analysis.power.plan_from_events`, the users
each arm needs to detect the day's ``mde`` with its ``power`` at the plan's alpha (split over the
day's treatments, as Holm's first step does), and the day plays that many users' sessions. CUPED
is not counted: a plan with a pre-period gets at least the power it asked for.

When the users needed exceed the world's, the day still plays the sized sessions, over fewer
users with more sessions each, and says so.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from botify.experiment.plan import Day, Plan


def size_day(day: Day, plan: Plan, log_dir: Path, world_users: int) -> Day:
    """The day with its sessions sized from the log in ``log_dir`` (the day before's).

    Raises:
        DataError: the log has too few users to measure a variance, or none of them a complete
            session.
        ConfigError: a relative ``mde`` of a metric whose mean is 0.
    """
    from botify.analysis.power import plan_from_events
    from botify.events import read_events

    sizing = day.sizing
    treatments = len(day.arms) - 1
    metric = plan.analysis.primary
    sized = plan_from_events(read_events([log_dir]), metric, sizing.mde, sizing.relative,
                             alpha=plan.analysis.alpha, power=sizing.power, treatments=treatments)
    sessions = sized.total_sessions
    effect = (f"{sizing.mde:.2%} ({sized.mde:.4g})" if sizing.relative else f"{sized.mde:.4g}")
    said = (f"sized from day {day.number - 1}'s log: {metric} sd "
            f"{math.sqrt(sized.variance):.4g} over {sized.users:,} users, "
            f"{sized.sessions_per_user:.2f} sessions each; to detect {effect} with power "
            f"{sizing.power:.0%} at alpha {plan.analysis.alpha:g} over {treatments} treatment(s), "
            f"{sized.users_per_arm:,} users per arm, {sessions:,} sessions")
    if sizing.max_sessions is not None and sessions > sizing.max_sessions:
        sessions = sizing.max_sessions
        said += f"; capped at max_sessions = {sessions:,}, so below the power asked"
    if sized.total_users > world_users:
        said += (f"; the world has only {world_users:,} users for the {sized.total_users:,} "
                 "needed, so they play more sessions each than measured and the power is "
                 "approximate")
    return replace(day, sessions=sessions, sizing=replace(sizing, said=said))
