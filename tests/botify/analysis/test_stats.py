"""The statistics against independent computations (scipy, statsmodels, numpy), to 9 decimals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from botify.analysis.stats import (
    SampleStats,
    cuped_fit,
    holm,
    srm_check,
    welch_dof,
    welch_effect,
)

# A hand-made example: unequal sizes and variances.
CONTROL = np.array([4.0, 5.5, 6.0, 3.5, 7.0, 5.0, 4.5, 6.5])
TREATMENT = np.array([6.0, 7.5, 5.0, 8.0, 9.5, 6.5, 7.0, 10.0, 8.5, 7.5, 6.0])


def test_sample_stats_match_numpy_and_add_up():
    whole = SampleStats.of(np.concatenate([CONTROL, TREATMENT]))
    parts = SampleStats.of(CONTROL) + SampleStats.of(TREATMENT)
    assert parts.n == whole.n == 19
    assert parts.mean == pytest.approx(whole.mean, abs=1e-12)
    assert parts.variance == pytest.approx(np.var(np.r_[CONTROL, TREATMENT], ddof=1), abs=1e-12)
    assert SampleStats.of(CONTROL).sum_squares == pytest.approx(np.sum(CONTROL**2), abs=1e-9)
    again = SampleStats.from_sums(len(CONTROL), CONTROL.sum(), np.sum(CONTROL**2))
    assert again.variance == pytest.approx(CONTROL.var(ddof=1), abs=1e-12)
    assert SampleStats() + SampleStats.of(CONTROL) == SampleStats.of(CONTROL)


def test_sample_stats_keep_precision_with_a_large_mean():
    values = 1e9 + np.array([0.1, 0.2, 0.3, 0.4])
    assert SampleStats.of(values).variance == pytest.approx(np.var(values, ddof=1), rel=1e-6)


def test_welch_matches_scipy_and_statsmodels():
    result = welch_effect(SampleStats.of(CONTROL), SampleStats.of(TREATMENT), alpha=0.05)
    reference = scipy_stats.ttest_ind(TREATMENT, CONTROL, equal_var=False)
    interval = reference.confidence_interval(0.95)
    base = CONTROL.mean()
    assert round(result.p_value, 9) == round(float(reference.pvalue), 9)
    assert round(result.dof, 9) == round(float(reference.df), 9)
    assert round(result.lower, 9) == round(interval.low / base * 100, 9)
    assert round(result.upper, 9) == round(interval.high / base * 100, 9)
    assert round(result.effect, 9) == round((TREATMENT.mean() - base) / base * 100, 9)
    assert result.significant and result.reason is None

    compare = CompareMeans(DescrStatsW(TREATMENT), DescrStatsW(CONTROL))
    low, high = compare.tconfint_diff(alpha=0.05, usevar="unequal")
    assert round(result.half_width, 9) == round((high - low) / 2, 9)


def test_welch_follows_the_course_formula_by_hand():
    n_c, n_t = len(CONTROL), len(TREATMENT)
    s_c, s_t = CONTROL.var(ddof=1), TREATMENT.var(ddof=1)
    dof = (s_c / n_c + s_t / n_t) ** 2 / (
        s_c**2 / n_c**2 / (n_c - 1) + s_t**2 / n_t**2 / (n_t - 1)
    )
    half = scipy_stats.t.ppf(0.95, dof) * math.sqrt(s_c / n_c + s_t / n_t)
    result = welch_effect(SampleStats.of(CONTROL), SampleStats.of(TREATMENT), alpha=0.1)
    assert welch_dof(SampleStats.of(CONTROL), SampleStats.of(TREATMENT)) == pytest.approx(dof)
    assert result.half_width == pytest.approx(half, abs=1e-12)


def test_an_interval_that_covers_zero_is_not_significant():
    result = welch_effect(SampleStats.of(CONTROL), SampleStats.of(CONTROL + 0.1))
    assert result.lower < 0 < result.upper
    assert not result.significant
    assert result.p_value > 0.05


@pytest.mark.parametrize(
    ("control", "treatment", "reason"),
    [
        ([], [1.0, 2.0], "no users in the control"),
        ([1.0, 2.0], [], "no users in the treatment"),
        ([1.0], [1.0, 2.0], "fewer than 2 users in the control"),
        ([0.0, 0.0], [1.0, 2.0], "the control mean is 0"),
        ([2.0, 2.0], [3.0, 3.0], "zero variance in both groups"),
    ],
    ids=["no-control", "no-treatment", "one-user", "zero-mean", "zero-variance"],
)
def test_degenerate_data_gives_a_reason_not_an_exception(control, treatment, reason):
    result = welch_effect(SampleStats.of(control), SampleStats.of(treatment))
    assert result.reason is not None and result.reason.startswith(reason)
    assert not result.significant
    assert math.isnan(result.p_value)


def test_zero_variance_keeps_the_point_effect():
    result = welch_effect(SampleStats.of([2.0, 2.0]), SampleStats.of([3.0, 3.0]))
    assert result.effect == pytest.approx(50.0)


def test_srm_matches_scipy_chisquare():
    observed = {"C": 5120, "T1": 4880, "T2": 5301}
    check = srm_check(observed)
    reference = scipy_stats.chisquare([5120, 4880, 5301])
    assert round(check.chi2, 9) == round(float(reference.statistic), 9)
    assert round(check.p_value, 9) == round(float(reference.pvalue), 9)
    assert check.mismatch  # p is about 1e-4
    weighted = srm_check({"C": 700, "T1": 300}, {"C": 0.7, "T1": 0.3})
    assert weighted.chi2 == pytest.approx(0.0) and not weighted.mismatch


def test_srm_counts_configured_treatments_without_users():
    check = srm_check({"C": 100}, {"C": 1, "T1": 1})
    assert check.observed == (100, 0) and check.mismatch


def test_srm_with_one_treatment_has_a_reason():
    check = srm_check({"C": 10})
    assert check.reason and not check.mismatch


def test_holm_matches_statsmodels():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2, 0.04])
    expected = multipletests(p, alpha=0.05, method="holm")[1]
    np.testing.assert_allclose(holm(p), expected, atol=1e-12)
    with_nan = holm([0.01, np.nan, 0.04])
    np.testing.assert_allclose(with_nan[[0, 2]], multipletests([0.01, 0.04], method="holm")[1])
    assert np.isnan(with_nan[1])


def test_cuped_reduces_variance_on_correlated_data():
    rng = np.random.default_rng(3)
    x = rng.normal(10, 2, size=5000)
    y = 0.8 * x + rng.normal(0, 1, size=5000)
    fit = cuped_fit(y, x)
    assert fit.theta == pytest.approx(np.cov(x, y)[0, 1] / np.var(x, ddof=1), rel=1e-9)
    adjusted = fit.adjust(y, x)
    assert adjusted.mean() == pytest.approx(y.mean(), abs=1e-9)
    reduction = 1 - adjusted.var() / y.var()
    assert reduction == pytest.approx(fit.variance_reduction)
    assert reduction == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, abs=1e-9)
    assert reduction > 0.6


def test_cuped_with_a_constant_covariate_leaves_values_alone():
    fit = cuped_fit([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    assert fit.theta == 0 and fit.reason
