"""The analysis entry point: an event log in, every treatment's effects against the control out.

This is the one place where DataFrames meet the statistics of :mod:`botify.analysis.stats`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from botify import events as ev
from botify.analysis import columns as col
from botify.analysis.sessions import (
    session_length_over_time,
    sessionize_events,
    user_metrics,
)
from botify.analysis.stats import (
    Cuped,
    SampleStats,
    SrmCheck,
    cuped_fit,
    holm,
    srm_check,
    welch_effect,
)
from botify.errors import DataError
from botify.experiments import CONTROL, treatment_name

ALPHA = 0.05


@dataclass
class Analysis:
    """Everything an A/B report shows.

    Attributes:
        experiment: the experiment analyzed.
        control: the control treatment's name.
        alpha: the significance level.
        effects: one row per treatment and metric, columns :data:`columns.ALL_EFFECT_COLUMNS`.
        treatments: per treatment: ``treatment, recommender, users, sessions, events``.
        users: the per-user metrics (:func:`sessions.user_metrics`).
        sessions: the closed sessions.
        over_time: mean session length per treatment over time.
        srm: the sample-ratio-mismatch check.
        cuped: per metric, the CUPED fit when pre-period logs were given.
        warnings: what the reader must know (sample-ratio mismatch, dropped open sessions...).
    """

    experiment: str
    control: str
    alpha: float
    effects: pd.DataFrame
    treatments: pd.DataFrame
    users: pd.DataFrame
    sessions: pd.DataFrame
    over_time: pd.DataFrame
    srm: SrmCheck
    cuped: dict[str, Cuped] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def treatment_names(n: int) -> list[str]:
    """The names of an experiment's ``n`` treatments: ``C, T1, ..., T{n-1}``."""
    return [treatment_name(i) for i in range(n)]


def _treatment_order(name: str) -> tuple[int, int, str]:
    if name == CONTROL:
        return (0, 0, name)
    match = re.fullmatch(r"T(\d+)", name)
    return (1, int(match.group(1)), name) if match else (2, 0, name)


def experiment_assignment(events: pd.DataFrame, experiment: str) -> np.ndarray:
    """Every event's treatment in ``experiment`` (None where the event does not carry it)."""
    return np.asarray(
        [a.get(experiment) if a.__class__ is dict else None for a in events[ev.EXPERIMENTS]],
        dtype=object,
    )


def _experiments_in(events: pd.DataFrame, limit: int = 100_000) -> list[str]:
    names: set[str] = set()
    for assignments in events[ev.EXPERIMENTS].head(limit).tolist():
        if isinstance(assignments, dict):
            names.update(assignments)
    return sorted(names)


def _recommenders(events: pd.DataFrame, codes: np.ndarray, labels: np.ndarray) -> dict[str, str]:
    """The recommender that served each treatment: the only one seen, or all of them joined by
    ``+``, most frequent first (when the experiment analyzed is not the one that routes)."""
    served, names = pd.factorize(events[ev.RECOMMENDER])
    known = (served >= 0) & (codes >= 0)
    pairs, counts = np.unique(
        codes[known].astype(np.int64) * len(names) + served[known], return_counts=True
    )
    found: dict[str, list[tuple[int, str]]] = {}
    for pair, count in zip(pairs, counts, strict=True):
        treatment, recommender = divmod(int(pair), len(names))
        found.setdefault(str(labels[treatment]), []).append((-int(count), str(names[recommender])))
    return {t: "+".join(name for _, name in sorted(seen)) for t, seen in found.items()}


def analyze(
    events: pd.DataFrame,
    experiment: str,
    *,
    control: str = CONTROL,
    alpha: float = ALPHA,
    pre_events: pd.DataFrame | None = None,
    configured: Sequence[str] | None = None,
    metrics: Sequence[str] = col.METRICS,
    bins: int = 24,
) -> Analysis:
    """Analyze an A/B experiment from its event log (per-user session metrics, SRM, Holm, CUPED).

    Args:
        events: the event log (:func:`botify.events.read_events`).
        experiment: the experiment's name, as in the events' ``experiments`` field.
        control: the control treatment.
        alpha: the significance level.
        pre_events: an earlier period's log; when given, CUPED adjusts every metric by the same
            metric of the same user in that period.
        configured: the recommender serving each treatment, as configured (``EXPERIMENTS[name]``):
            sets the expected split of the SRM check (equal shares of its treatments) and names
            treatments not seen in the log.
        metrics: the metrics to compare.
        bins: time bins of the session-length-over-time table.

    Returns:
        The analysis.

    Raises:
        DataError: the log holds no event of the experiment, or the control has no users.
    """
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be between 0 and 1, not {alpha}")
    codes, labels = pd.factorize(experiment_assignment(events, experiment))
    labels = np.asarray([str(label) for label in labels], dtype=object)
    carried = codes >= 0
    if not carried.any():
        known = ", ".join(_experiments_in(events)) or "none"
        raise DataError(
            f"no event carries the experiment {experiment!r} (experiments in the logs: {known})"
        )
    warnings: list[str] = []
    if not carried.all():
        ignored = int((~carried).sum())
        warnings.append(f"{ignored} events do not carry the experiment {experiment!r}: ignored")
        events = events.loc[carried].reset_index(drop=True)
        codes = codes[carried]

    found = sessionize_events(events, codes)
    sessions = found.table
    sessions[col.TREATMENT] = labels[sessions[col.TREATMENT].to_numpy(dtype=np.int64)]
    if found.open_sessions:
        warnings.append(
            f"{found.open_sessions} sessions ({found.open_events} events) are not closed by a "
            f"'last' event and are not counted"
        )
    users = user_metrics(sessions)
    observed = sorted(labels, key=_treatment_order)
    names = treatment_names(len(configured)) if configured else []
    all_treatments = sorted(set(observed) | set(names), key=_treatment_order)
    user_counts = users[col.TREATMENT].value_counts()
    if int(user_counts.get(control, 0)) == 0:
        seen = ", ".join(f"{t}={int(user_counts.get(t, 0))}" for t in all_treatments)
        raise DataError(
            f"the control {control!r} of {experiment!r} has no users with a complete session "
            f"(users per treatment: {seen})"
        )

    served = _recommenders(events, codes, labels)
    for index, name in enumerate(names):
        served.setdefault(name, configured[index])
    session_counts = sessions[col.TREATMENT].value_counts()
    event_counts = dict(zip(labels, np.bincount(codes, minlength=len(labels)), strict=True))
    summary = pd.DataFrame(
        {
            col.TREATMENT: all_treatments,
            col.RECOMMENDER: [served.get(t, "") for t in all_treatments],
            "users": [int(user_counts.get(t, 0)) for t in all_treatments],
            col.SESSIONS: [int(session_counts.get(t, 0)) for t in all_treatments],
            "events": [int(event_counts.get(t, 0)) for t in all_treatments],
        }
    )
    srm_observed = {t: int(user_counts.get(t, 0)) for t in all_treatments}
    srm = srm_check(srm_observed, {t: 1.0 for t in names} if names else None)
    if srm.mismatch:
        warnings.insert(
            0,
            f"SAMPLE RATIO MISMATCH: users per treatment {srm_observed} are implausible under the "
            f"configured split (chi-square p = {srm.p_value:.2g} < {srm.threshold}); the "
            f"assignment or the logging is broken and the effects below cannot be trusted",
        )

    values = {metric: users[metric].to_numpy(dtype=np.float64) for metric in metrics}
    cuped: dict[str, Cuped] = {}
    adjusted = values
    if pre_events is not None:
        adjusted, cuped = _cuped(users, pre_events, metrics)

    rows = []
    user_treatment = users[col.TREATMENT].to_numpy()
    is_control = user_treatment == control
    for name in all_treatments:
        if name == control:
            continue
        is_treated = user_treatment == name
        for metric in metrics:
            baseline = float(values[metric][is_control].mean())
            result = welch_effect(
                SampleStats.of(adjusted[metric][is_control]),
                SampleStats.of(adjusted[metric][is_treated]),
                alpha=alpha,
                baseline=baseline,
            )
            treated_raw = values[metric][is_treated]
            rows.append(
                {
                    col.TREATMENT: name,
                    col.METRIC: metric,
                    col.EFFECT: result.effect,
                    col.LOWER: result.lower,
                    col.UPPER: result.upper,
                    col.CONTROL_MEAN: baseline,
                    col.TREATMENT_MEAN: float(treated_raw.mean()) if len(treated_raw) else np.nan,
                    col.SIGNIFICANT: result.significant,
                    col.P_VALUE: result.p_value,
                    col.RECOMMENDER: served.get(name, ""),
                    col.CONTROL_USERS: result.control_n,
                    col.TREATMENT_USERS: result.treatment_n,
                    col.DOF: result.dof,
                    col.CUPED: metric in cuped,
                    col.REASON: result.reason or "",
                }
            )
    effects = pd.DataFrame(rows, columns=[c for c in col.ALL_EFFECT_COLUMNS])
    # Holm within each metric: the family is the treatments compared with the same control.
    effects[col.P_VALUE_HOLM] = np.nan
    for _, index in effects.groupby(col.METRIC, sort=False).groups.items():
        effects.loc[index, col.P_VALUE_HOLM] = holm(effects.loc[index, col.P_VALUE].to_numpy())
    effects[col.SIGNIFICANT_HOLM] = (effects[col.P_VALUE_HOLM] < alpha).astype(bool)
    effects[col.SIGNIFICANT] = effects[col.SIGNIFICANT].astype(bool)
    effects[col.CUPED] = effects[col.CUPED].astype(bool)

    return Analysis(
        experiment=experiment,
        control=control,
        alpha=alpha,
        effects=effects,
        treatments=summary,
        users=users,
        sessions=sessions,
        over_time=session_length_over_time(sessions, bins=bins),
        srm=srm,
        cuped=cuped,
        warnings=warnings,
    )


def _cuped(
    users: pd.DataFrame, pre_events: pd.DataFrame, metrics: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, Cuped]]:
    """CUPED-adjusted per-user values, the covariate being each user's same metric earlier.

    Users absent from the earlier period get the pooled covariate mean (no adjustment for them).
    """
    pre = user_metrics(sessionize_events(pre_events).table)
    pre = pre.groupby(col.USER)[list(metrics)].mean()
    aligned = pre.reindex(users[col.USER].to_numpy())
    adjusted: dict[str, np.ndarray] = {}
    fits: dict[str, Cuped] = {}
    for metric in metrics:
        y = users[metric].to_numpy(dtype=np.float64)
        x = aligned[metric].to_numpy(dtype=np.float64)
        present = ~np.isnan(x)
        if present.sum() < 2:
            adjusted[metric] = y
            continue
        x = np.where(present, x, x[present].mean())
        fit = cuped_fit(y, x)
        fits[metric] = fit
        adjusted[metric] = fit.adjust(y, x)
    return adjusted, fits
