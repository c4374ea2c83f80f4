"""The analysis entry point: an event log in, every treatment's effects against the control out.

This is the one place where DataFrames meet the statistics of :mod:`botify.analysis.stats`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from botify import events as ev
from botify.analysis import columns as col
from botify.analysis import metrics as mt
from botify.analysis.compare import Comparison, compare
from botify.analysis.guardrails import Guardrail, parse_guardrails
from botify.analysis.looks import cuts, look_table
from botify.analysis.ratio import RATIOS
from botify.analysis.segments import UNKNOWN
from botify.analysis.sessions import (
    session_length_over_time,
    sessionize_events,
    user_metrics,
)
from botify.analysis.stats import Cuped, SrmCheck, cuped_fit, srm_check
from botify.errors import ConfigError, DataError
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
        primary: the metric the decisions are about.
        guardrails: the guardrails checked.
        checks: one row per treatment and guardrail, columns :data:`columns.GUARDRAIL_COLUMNS`.
        decisions: one row per treatment, columns :data:`columns.DECISION_COLUMNS`.
        segments: the comparisons within each segment, when segments were given.
        segment_by: the attribute that defines the segments.
        sequential: the always-valid intervals were asked for (and decide).
        looks: the primary metric at each look (:data:`looks.LOOK_COLUMNS`), when asked for.
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
    primary: str = mt.PRIMARY
    guardrails: tuple[Guardrail, ...] = ()
    checks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=list(col.GUARDRAIL_COLUMNS)))
    decisions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=list(col.DECISION_COLUMNS)))
    segments: list[Segment] = field(default_factory=list)
    segment_by: str | None = None
    sequential: bool = False
    looks: pd.DataFrame | None = None


@dataclass
class Segment:
    """One segment's comparisons (as the whole experiment's, on its users only).

    Attributes:
        label: the segment.
        treatments: per treatment: ``treatment, recommender, users, sessions``.
        srm: the sample-ratio check within the segment.
        effects: as :attr:`Analysis.effects`.
        checks: as :attr:`Analysis.checks`.
        decisions: as :attr:`Analysis.decisions`.
    """

    label: str
    treatments: pd.DataFrame
    srm: SrmCheck
    effects: pd.DataFrame
    checks: pd.DataFrame
    decisions: pd.DataFrame


@dataclass
class Sessionized:
    """What the analysis needs of an experiment's log: its sessions and a few counts.

    Attributes:
        sessions: the closed sessions (:func:`sessions.sessionize`), ``treatment`` the labels.
        open_sessions: sessions not closed by a ``last`` event (not counted).
        open_events: their events.
        event_counts: per treatment, its events.
        served: per treatment, the recommender(s) that served it (see :func:`_recommenders`).
        ignored: events that do not carry the experiment.
        timestamps: every event's timestamp, for the looks (None: looks cannot be taken).
        until: the closed sessions of the events ``keep`` selects (a mask over ``timestamps``).
    """

    sessions: pd.DataFrame
    open_sessions: int
    open_events: int
    event_counts: dict[str, int]
    served: dict[str, str]
    ignored: int = 0
    timestamps: np.ndarray | None = None
    until: Callable[[np.ndarray], pd.DataFrame] | None = None


def sessionize_experiment(events: pd.DataFrame, experiment: str) -> Sessionized:
    """Cut an experiment's events into sessions, per user and treatment (the pandas engine).

    Raises:
        DataError: no event carries the experiment.
    """
    codes, labels = pd.factorize(experiment_assignment(events, experiment))
    labels = np.asarray([str(label) for label in labels], dtype=object)
    carried = codes >= 0
    if not carried.any():
        known = ", ".join(_experiments_in(events)) or "none"
        raise DataError(
            f"no event carries the experiment {experiment!r} (experiments in the logs: {known})"
        )
    ignored = int((~carried).sum())
    if ignored:
        events = events.loc[carried].reset_index(drop=True)
        codes = codes[carried]

    def until(keep: np.ndarray) -> pd.DataFrame:
        part = sessionize_events(events.loc[keep], codes[keep]).table
        part[col.TREATMENT] = labels[part[col.TREATMENT].to_numpy(dtype=np.int64)]
        return part

    found = sessionize_events(events, codes)
    found.table[col.TREATMENT] = labels[found.table[col.TREATMENT].to_numpy(dtype=np.int64)]
    return Sessionized(
        sessions=found.table, open_sessions=found.open_sessions, open_events=found.open_events,
        event_counts=dict(zip(labels, np.bincount(codes, minlength=len(labels)).tolist(),
                              strict=True)),
        served=_recommenders(events, codes, labels), ignored=ignored,
        timestamps=events[ev.TIMESTAMP].to_numpy(dtype=np.int64), until=until,
    )


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
    pre_events: pd.DataFrame | None = None,
    **options: Any,
) -> Analysis:
    """Analyze an A/B experiment from its event log (per-user session metrics and session-level
    ratios, SRM, Holm, CUPED, guardrails and a decision per treatment, optionally by segment).

    Args:
        events: the event log (:func:`botify.events.read_events`).
        experiment: the experiment's name, as in the events' ``experiments`` field.
        pre_events: an earlier period's log; when given, CUPED adjusts every per-user metric by
            the same metric of the same user in that period.
        options: the other settings of :func:`analyze_sessions` (``control``, ``alpha``,
            ``configured``, ``metrics``, ``bins``, ``primary``, ``guardrails``, ``segments``,
            ``sequential``, ``looks``).

    Returns:
        The analysis.

    Raises:
        DataError: the log holds no event of the experiment, or the control has no users.
        ConfigError: an unknown metric, or a guardrail on the primary metric.
    """
    pre = None if pre_events is None else sessionize_events(pre_events).table
    return analyze_sessions(sessionize_experiment(events, experiment), experiment,
                            pre_sessions=pre, **options)


def analyze_sessions(
    log: Sessionized,
    experiment: str,
    *,
    control: str = CONTROL,
    alpha: float = ALPHA,
    pre_sessions: pd.DataFrame | None = None,
    configured: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    bins: int = 24,
    primary: str = mt.PRIMARY,
    guardrails: Sequence[Guardrail] | None = None,
    segments: pd.Series | None = None,
    sequential: bool = False,
    looks: int | str | None = None,
) -> Analysis:
    """:func:`analyze` from an experiment's sessions, whichever engine cut them.

    Args:
        log: the experiment's sessions (:func:`sessionize_experiment`, or the Spark engine's).
        experiment: the experiment's name.
        control: the control treatment.
        alpha: the significance level.
        pre_sessions: an earlier period's closed sessions; when given, CUPED adjusts every
            per-user metric by the same metric of the same user in that period.
        configured: the recommender serving each treatment, as configured (``EXPERIMENTS[name]``):
            sets the expected split of the SRM check (equal shares of its treatments) and names
            treatments not seen in the log.
        metrics: the metrics to compare (default all of :data:`metrics.BETTER`; the primary and
            the guardrails' metrics are added).
        bins: time bins of the session-length-over-time table.
        primary: the metric decisions are about.
        guardrails: the guardrails (default :data:`guardrails.DEFAULT_GUARDRAILS`, less one on
            the primary metric).
        segments: per user (the index), a segment label (:func:`segments.user_segments`); every
            comparison is repeated within each segment, users not in it under ``(unknown)``.
        sequential: add always-valid intervals; decisions and guardrails then use them.
        looks: the primary metric's comparison after each of this many equal slices of the
            experiment's time, or ``"day"``: after each UTC day (:mod:`~botify.analysis.looks`).

    Raises:
        DataError: the control has no users.
        ConfigError: an unknown metric, a guardrail on the primary metric, or looks asked of a
            log that cannot take them.
    """
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be between 0 and 1, not {alpha}")
    if looks is not None and log.until is None:
        raise ConfigError("looks need the events themselves: use the pandas engine")
    rails = tuple(parse_guardrails(None, primary) if guardrails is None else guardrails)
    metrics = _metrics(metrics, primary, rails)
    warnings: list[str] = []
    if log.ignored:
        warnings.append(f"{log.ignored} events do not carry the experiment {experiment!r}: "
                        "ignored")
    sessions = log.sessions
    if log.open_sessions:
        warnings.append(
            f"{log.open_sessions} sessions ({log.open_events} events) are not closed by a "
            f"'last' event and are not counted"
        )
    users = user_metrics(sessions)
    labels = list(log.event_counts)
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

    served = dict(log.served)
    for index, name in enumerate(names):
        served.setdefault(name, configured[index])
    session_counts = sessions[col.TREATMENT].value_counts()
    event_counts = log.event_counts
    summary = pd.DataFrame(
        {
            col.TREATMENT: all_treatments,
            col.RECOMMENDER: [served.get(t, "") for t in all_treatments],
            "users": [int(user_counts.get(t, 0)) for t in all_treatments],
            col.SESSIONS: [int(session_counts.get(t, 0)) for t in all_treatments],
            "events": [int(event_counts.get(t, 0)) for t in all_treatments],
        }
    )
    weights = {t: 1.0 for t in names} if names else None
    srm_observed = {t: int(user_counts.get(t, 0)) for t in all_treatments}
    srm = srm_check(srm_observed, weights)
    if srm.mismatch:
        warnings.insert(
            0,
            f"SAMPLE RATIO MISMATCH: users per treatment {srm_observed} are implausible under the "
            f"configured split (chi-square p = {srm.p_value:.2g} < {srm.threshold}); the "
            f"assignment or the logging is broken and the effects below cannot be trusted",
        )

    pre = _pre_users(pre_sessions, metrics) if pre_sessions is not None else None
    options = dict(control=control, alpha=alpha, served=served, primary=primary,
                   sequential=sequential, treatments=all_treatments)
    overall, cuped = _compare(users, metrics, pre, guardrails=rails, srm_mismatch=srm.mismatch,
                              **options)
    by_segment: list[Segment] = []
    if segments is not None:
        by_segment = _segments(users, segments, metrics, pre, weights, rails, options)
        tests = sum(len(s.effects) for s in by_segment)
        warnings.append(
            f"segments multiply comparisons: {len(by_segment)} segments by {segments.name} add "
            f"{tests} tests; Holm adjusts only across the treatments of one segment and metric, "
            f"so some segment effects are significant by chance: read them as hypotheses for a "
            f"new experiment, decide on the whole experiment"
        )
    look_rows = None
    if looks is not None:
        timestamps = log.timestamps

        def until(keep: np.ndarray) -> pd.DataFrame:
            result, _ = _compare(user_metrics(log.until(keep)), [primary], pre, guardrails=(),
                                 **{**options, "sequential": True})
            return result.effects

        look_rows = look_table(timestamps, cuts(timestamps, looks), until)

    return Analysis(
        experiment=experiment,
        control=control,
        alpha=alpha,
        effects=overall.effects,
        treatments=summary,
        users=users,
        sessions=sessions,
        over_time=session_length_over_time(sessions, bins=bins),
        srm=srm,
        cuped=cuped,
        warnings=warnings,
        primary=primary,
        guardrails=rails,
        checks=overall.checks,
        decisions=overall.decisions,
        segments=by_segment,
        segment_by=None if segments is None else str(segments.name),
        sequential=sequential,
        looks=look_rows,
    )


def _compare(users: pd.DataFrame, metrics: Sequence[str], pre: pd.DataFrame | None,
             **options) -> tuple[Comparison, dict[str, Cuped]]:
    """:func:`compare.compare` on a per-user table (CUPED-adjusted when ``pre`` is given)."""
    per_user = [m for m in metrics if m not in RATIOS]
    values = {m: users[m].to_numpy(dtype=np.float64) for m in per_user}
    adjusted, cuped = (values, {}) if pre is None else _cuped(users, pre, per_user)
    ratios = {m: (users[RATIOS[m][0]].to_numpy(dtype=np.float64),
                  users[RATIOS[m][1]].to_numpy(dtype=np.float64))
              for m in metrics if m in RATIOS}
    result = compare(users[col.TREATMENT].to_numpy(), values, adjusted, ratios=ratios,
                     cuped=tuple(cuped), **options)
    return result, cuped


def _metrics(metrics: Sequence[str] | None, primary: str, rails: Sequence[Guardrail]
             ) -> list[str]:
    """The metrics compared: those asked for (all by default), then the primary and the
    guardrails' if missing, each ratio beside its per-user counterpart."""
    metrics = list(mt.BETTER) if metrics is None else list(metrics)
    for name, metric in (("primary metric", primary), *(("metric", m) for m in metrics)):
        mt.check_metric(metric, name)
    for rail in rails:
        if rail.metric == primary:
            raise ConfigError(f"{rail.metric} is the primary metric; a guardrail must be another")
    return mt.ordered(list(dict.fromkeys([*metrics, primary, *(r.metric for r in rails)])))


def _segments(users: pd.DataFrame, segments: pd.Series, metrics: Sequence[str],
              pre: pd.DataFrame | None, weights: dict[str, float] | None,
              rails: Sequence[Guardrail], options: dict) -> list[Segment]:
    """The comparisons within each segment, largest first (CUPED fitted within each)."""
    label = segments.reindex(users[col.USER].to_numpy()).fillna(UNKNOWN).astype(str).to_numpy()
    treatments = options["treatments"]
    found = []
    sizes = pd.Series(label).value_counts(sort=False)
    for name in sorted(sizes.index, key=lambda n: (n == UNKNOWN, -int(sizes[n]), n)):
        inside = users.loc[label == name].reset_index(drop=True)
        counts = inside[col.TREATMENT].value_counts()
        sessions = inside.groupby(col.TREATMENT)[col.SESSIONS].sum()
        table = pd.DataFrame({
            col.TREATMENT: treatments,
            col.RECOMMENDER: [options["served"].get(t, "") for t in treatments],
            "users": [int(counts.get(t, 0)) for t in treatments],
            col.SESSIONS: [int(sessions.get(t, 0)) for t in treatments],
        })
        srm = srm_check({t: int(counts.get(t, 0)) for t in treatments}, weights)
        result, _ = _compare(inside, metrics, pre, guardrails=rails, srm_mismatch=srm.mismatch,
                             **options)
        found.append(Segment(name, table, srm, result.effects, result.checks, result.decisions))
    return found


def _pre_users(pre_sessions: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Each user's per-user metrics in the earlier period (the CUPED covariates)."""
    per_user = [m for m in metrics if m not in RATIOS]
    pre = user_metrics(pre_sessions)
    return pre.groupby(col.USER)[per_user].mean()


def _cuped(
    users: pd.DataFrame, pre: pd.DataFrame, metrics: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, Cuped]]:
    """CUPED-adjusted per-user values, the covariate being each user's same metric earlier
    (``pre``: :func:`_pre_users`).

    Users absent from the earlier period get the pooled covariate mean (no adjustment for them).
    """
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
