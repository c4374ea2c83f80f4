"""Every treatment against the control on per-user values: effects, guardrails and decisions.

:func:`compare` runs on all users or on one segment's; it turns the per-user arrays into sufficient
statistics and calls the pure tests of :mod:`~botify.analysis.stats`,
:mod:`~botify.analysis.guardrails` and :mod:`~botify.analysis.decision`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from botify.analysis import columns as col
from botify.analysis.decision import Primary, decide
from botify.analysis.guardrails import Guardrail, non_inferiority
from botify.analysis.stats import SampleStats, holm, welch_effect


@dataclass(frozen=True)
class Comparison:
    """The tables of one comparison (all users, or a segment).

    Attributes:
        effects: one row per treatment and metric, :data:`columns.ALL_EFFECT_COLUMNS`.
        checks: one row per treatment and guardrail, :data:`columns.GUARDRAIL_COLUMNS`.
        decisions: one row per treatment, :data:`columns.DECISION_COLUMNS`.
    """

    effects: pd.DataFrame
    checks: pd.DataFrame
    decisions: pd.DataFrame


def compare(
    treatment: np.ndarray,
    values: Mapping[str, np.ndarray],
    adjusted: Mapping[str, np.ndarray],
    *,
    treatments: Sequence[str],
    control: str,
    alpha: float,
    served: Mapping[str, str],
    primary: str,
    guardrails: Sequence[Guardrail],
    cuped: Sequence[str] = (),
    srm_mismatch: bool = False,
) -> Comparison:
    """Compare every treatment with the control.

    Args:
        treatment: every user's treatment.
        values: per metric, every user's value (the means shown).
        adjusted: per metric, the values tested (CUPED-adjusted, or ``values`` again).
        treatments: the treatments in their order (the control among them).
        control: the control.
        alpha: the significance level (two-sided effects, one-sided guardrails).
        served: treatment -> its recommender.
        primary: the metric decisions are about; Holm across the treatments decides it.
        guardrails: the guardrails (their metrics among ``values``).
        cuped: the metrics that ``adjusted`` adjusts.
        srm_mismatch: the users' split is implausible: every decision is inconclusive.
    """
    is_control = treatment == control
    control_stats = {m: SampleStats.of(adjusted[m][is_control]) for m in values}
    baselines = {m: float(values[m][is_control].mean()) if is_control.any() else np.nan
                 for m in values}
    rows, checks = [], []
    for name in treatments:
        if name == control:
            continue
        is_treated = treatment == name
        for metric in values:
            treated = SampleStats.of(adjusted[metric][is_treated])
            result = welch_effect(control_stats[metric], treated, alpha=alpha,
                                  baseline=baselines[metric])
            treated_raw = values[metric][is_treated]
            rows.append({
                col.TREATMENT: name,
                col.METRIC: metric,
                col.EFFECT: result.effect,
                col.LOWER: result.lower,
                col.UPPER: result.upper,
                col.CONTROL_MEAN: baselines[metric],
                col.TREATMENT_MEAN: float(treated_raw.mean()) if len(treated_raw) else np.nan,
                col.SIGNIFICANT: result.significant,
                col.P_VALUE: result.p_value,
                col.RECOMMENDER: served.get(name, ""),
                col.CONTROL_USERS: result.control_n,
                col.TREATMENT_USERS: result.treatment_n,
                col.DOF: result.dof,
                col.CUPED: metric in cuped,
                col.REASON: result.reason or "",
                col.DIRECTION: col.BETTER[metric],
            })
        for rail in guardrails:
            check = non_inferiority(control_stats[rail.metric],
                                    SampleStats.of(adjusted[rail.metric][is_treated]), rail,
                                    alpha=alpha, baseline=baselines[rail.metric])
            checks.append({
                col.TREATMENT: name, col.METRIC: rail.metric, col.MARGIN: rail.limit,
                col.STATUS: check.status, col.DIFFERENCE: check.difference,
                col.EFFECT: check.effect, col.WORST: check.worst,
                col.WORST_EFFECT: check.worst_effect, col.LIMIT: check.limit,
                col.P_VALUE: check.p_value, col.REASON: check.reason or "", "_check": check,
            })
    effects = pd.DataFrame(rows, columns=list(col.ALL_EFFECT_COLUMNS))
    # Holm within each metric: the family is the treatments compared with the same control.
    effects[col.P_VALUE_HOLM] = np.nan
    for _, index in effects.groupby(col.METRIC, sort=False).groups.items():
        effects.loc[index, col.P_VALUE_HOLM] = holm(effects.loc[index, col.P_VALUE].to_numpy())
    effects[col.SIGNIFICANT_HOLM] = (effects[col.P_VALUE_HOLM] < alpha).astype(bool)
    effects[col.SIGNIFICANT] = effects[col.SIGNIFICANT].astype(bool)
    effects[col.CUPED] = effects[col.CUPED].astype(bool)
    check_table = pd.DataFrame(checks, columns=[*col.GUARDRAIL_COLUMNS, "_check"])
    decisions = _decisions(effects, check_table, primary, srm_mismatch)
    return Comparison(effects, check_table.drop(columns="_check"), decisions)


def _decisions(effects: pd.DataFrame, checks: pd.DataFrame, primary: str,
               srm_mismatch: bool) -> pd.DataFrame:
    rows = []
    higher = col.BETTER[primary] == col.HIGHER_BETTER
    for row in effects[effects[col.METRIC] == primary].itertuples(index=False):
        row = row._asdict()
        mine = checks[checks[col.TREATMENT] == row[col.TREATMENT]]["_check"].tolist()
        decision = decide(
            Primary(primary, row[col.EFFECT], bool(row[col.SIGNIFICANT_HOLM]),
                    row[col.P_VALUE_HOLM], higher, row[col.REASON] or None),
            mine, srm_mismatch,
        )
        rows.append({
            col.TREATMENT: row[col.TREATMENT], col.RECOMMENDER: row[col.RECOMMENDER],
            col.METRIC: primary, col.EFFECT: row[col.EFFECT], col.LOWER: row[col.LOWER],
            col.UPPER: row[col.UPPER], col.P_VALUE_HOLM: row[col.P_VALUE_HOLM],
            col.DECISION: decision.decision, col.REASON: decision.reason,
        })
    return pd.DataFrame(rows, columns=list(col.DECISION_COLUMNS))
