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
from botify.analysis import metrics as mt
from botify.analysis.decision import Primary, decide
from botify.analysis.guardrails import Guardrail, non_inferiority
from botify.analysis.ratio import RatioStats, ratio_effect
from botify.analysis.sequential import sequential_effect
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
    ratios: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    cuped: Sequence[str] = (),
    srm_mismatch: bool = False,
    sequential: bool = False,
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
        guardrails: the guardrails (their metrics among ``values`` or ``ratios``).
        ratios: per ratio metric, every user's numerator and denominator
            (:mod:`~botify.analysis.ratio`); their rows follow their per-user counterparts.
        cuped: the metrics that ``adjusted`` adjusts.
        srm_mismatch: the users' split is implausible: every decision is inconclusive.
        sequential: add the always-valid interval and p-values; the decisions and guardrails
            then use them (valid however often the experiment is looked at).
    """
    ratios = dict(ratios or {})
    metrics = mt.ordered([*values, *ratios])
    groups = {name: treatment == name for name in treatments}

    def summarized(metric: str, name: str) -> tuple[SampleStats, float, RatioStats | None]:
        """The tested statistics of a group, its shown mean, and its ratio statistics."""
        inside = groups[name]
        if metric in ratios:
            numerator, denominator = ratios[metric]
            both = RatioStats.of(numerator[inside], denominator[inside])
            return both.linearized(), both.ratio, both
        raw = values[metric][inside]
        return (SampleStats.of(adjusted[metric][inside]),
                float(raw.mean()) if len(raw) else np.nan, None)

    controls = {m: summarized(m, control) for m in metrics}
    rows, checks = [], []
    for name in treatments:
        if name == control:
            continue
        for metric in metrics:
            tested_c, mean_c, ratio_c = controls[metric]
            tested_t, mean_t, ratio_t = summarized(metric, name)
            if ratio_c is not None:
                result = ratio_effect(ratio_c, ratio_t, alpha=alpha)
            else:
                result = welch_effect(tested_c, tested_t, alpha=alpha, baseline=mean_c)
            row = {
                col.TREATMENT: name,
                col.METRIC: metric,
                col.EFFECT: result.effect,
                col.LOWER: result.lower,
                col.UPPER: result.upper,
                col.CONTROL_MEAN: mean_c,
                col.TREATMENT_MEAN: mean_t,
                col.SIGNIFICANT: result.significant,
                col.P_VALUE: result.p_value,
                col.RECOMMENDER: served.get(name, ""),
                col.CONTROL_USERS: result.control_n,
                col.TREATMENT_USERS: result.treatment_n,
                col.DOF: result.dof,
                col.CUPED: metric in cuped,
                col.REASON: result.reason or "",
                col.DIRECTION: mt.BETTER[metric],
                col.SEQ_LOWER: np.nan, col.SEQ_UPPER: np.nan, col.SEQ_P_VALUE: np.nan,
            }
            if sequential:
                always = sequential_effect(tested_c, tested_t, alpha=alpha,
                                           baselines=(mean_c, mean_t))
                row.update({col.SEQ_LOWER: always.lower, col.SEQ_UPPER: always.upper,
                            col.SEQ_P_VALUE: always.p_value})
            rows.append(row)
        for rail in guardrails:
            tested_c, mean_c, _ = controls[rail.metric]
            check = non_inferiority(tested_c, summarized(rail.metric, name)[0], rail,
                                    alpha=alpha, baseline=mean_c, always_valid=sequential)
            checks.append({
                col.TREATMENT: name, col.METRIC: rail.metric, col.MARGIN: rail.limit,
                col.STATUS: check.status, col.DIFFERENCE: check.difference,
                col.EFFECT: check.effect, col.WORST: check.worst,
                col.WORST_EFFECT: check.worst_effect, col.LIMIT: check.limit,
                col.P_VALUE: check.p_value, col.REASON: check.reason or "", "_check": check,
            })
    effects = pd.DataFrame(rows, columns=list(col.ALL_EFFECT_COLUMNS))
    # Holm within each metric: the family is the treatments compared with the same control.
    for raw, adjusted_p in ((col.P_VALUE, col.P_VALUE_HOLM),
                            (col.SEQ_P_VALUE, col.SEQ_P_VALUE_HOLM)):
        effects[adjusted_p] = np.nan
        for _, index in effects.groupby(col.METRIC, sort=False).groups.items():
            effects.loc[index, adjusted_p] = holm(effects.loc[index, raw].to_numpy(float))
    effects[col.SIGNIFICANT_HOLM] = (effects[col.P_VALUE_HOLM] < alpha).astype(bool)
    effects[col.SIGNIFICANT] = effects[col.SIGNIFICANT].astype(bool)
    effects[col.CUPED] = effects[col.CUPED].astype(bool)
    check_table = pd.DataFrame(checks, columns=[*col.GUARDRAIL_COLUMNS, "_check"])
    decisions = _decisions(effects, check_table, primary, alpha, srm_mismatch, sequential)
    return Comparison(effects, check_table.drop(columns="_check"), decisions)


def _decisions(effects: pd.DataFrame, checks: pd.DataFrame, primary: str, alpha: float,
               srm_mismatch: bool, sequential: bool) -> pd.DataFrame:
    rows = []
    higher = mt.BETTER[primary] == mt.HIGHER_BETTER
    p_column = col.SEQ_P_VALUE_HOLM if sequential else col.P_VALUE_HOLM
    for _, row in effects[effects[col.METRIC] == primary].iterrows():
        mine = checks[checks[col.TREATMENT] == row[col.TREATMENT]]["_check"].tolist()
        p = float(row[p_column])
        decision = decide(
            Primary(primary, row[col.EFFECT], bool(p < alpha), p, higher,
                    row[col.REASON] or None,
                    label="always-valid Holm p" if sequential else "Holm p"),
            mine, srm_mismatch,
        )
        rows.append({
            col.TREATMENT: row[col.TREATMENT], col.RECOMMENDER: row[col.RECOMMENDER],
            col.METRIC: primary, col.EFFECT: row[col.EFFECT], col.LOWER: row[col.LOWER],
            col.UPPER: row[col.UPPER], col.P_VALUE_HOLM: row[col.P_VALUE_HOLM],
            col.SEQ_LOWER: row[col.SEQ_LOWER], col.SEQ_UPPER: row[col.SEQ_UPPER],
            col.SEQ_P_VALUE_HOLM: row[col.SEQ_P_VALUE_HOLM],
            col.DECISION: decision.decision, col.REASON: decision.reason,
        })
    return pd.DataFrame(rows, columns=list(col.DECISION_COLUMNS))
