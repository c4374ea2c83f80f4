"""Ratio metrics: sufficient statistics that add up, the delta method by hand and by simulation,
the effect against scipy's Welch test on the linearized values, degenerate data.

The comparison with gbstats' RatioStatistic is in test_engines.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from botify.analysis.ratio import RATIOS, RatioStats, ratio_effect
from botify.analysis.sessions import sessionize_events, user_metrics
from botify.analysis.synthetic import generate_events

# Per user: listening time (numerator) and sessions (denominator).
TIME = np.array([3.0, 7.5, 1.0, 12.0, 4.5, 2.0, 9.0, 6.0])
SESSIONS = np.array([1.0, 3.0, 1.0, 4.0, 2.0, 1.0, 3.0, 2.0])


def users(rng, n, scale=1.0):
    """Users with a Poisson number of sessions and time that grows with it."""
    sessions = rng.poisson(2.0, size=n) + 1.0
    time = rng.gamma(2.0, 1.5 * scale, size=n) * sessions
    return time, sessions


def test_statistics_match_numpy_and_add_up():
    whole = RatioStats.of(TIME, SESSIONS)
    parts = RatioStats.of(TIME[:3], SESSIONS[:3]) + RatioStats.of(TIME[3:], SESSIONS[3:])
    sums = RatioStats.from_sums(
        len(TIME), TIME.sum(), SESSIONS.sum(), (TIME**2).sum(), (SESSIONS**2).sum(),
        (TIME * SESSIONS).sum(),
    )
    for stats in (parts, sums):
        assert stats.n == whole.n
        for field in ("numerator_mean", "denominator_mean", "numerator_m2", "denominator_m2",
                      "comoment"):
            assert getattr(stats, field) == pytest.approx(getattr(whole, field), abs=1e-9)
    assert whole.ratio == pytest.approx(TIME.sum() / SESSIONS.sum(), abs=1e-12)
    assert whole.covariance == pytest.approx(np.cov(TIME, SESSIONS)[0, 1], abs=1e-12)
    assert whole.sum_of_products == pytest.approx((TIME * SESSIONS).sum(), abs=1e-9)
    assert whole.numerator.variance == pytest.approx(TIME.var(ddof=1), abs=1e-12)
    assert RatioStats() + whole == whole == whole + RatioStats()


def test_delta_method_by_hand_and_as_linearized_values():
    stats = RatioStats.of(TIME, SESSIONS)
    mx, my = TIME.mean(), SESSIONS.mean()
    cov = np.cov(TIME, SESSIONS, ddof=1)
    by_hand = cov[0, 0] / my**2 - 2 * mx * cov[0, 1] / my**3 + mx**2 * cov[1, 1] / my**4
    assert round(stats.variance, 9) == round(by_hand, 9)
    linear = (TIME - stats.ratio * SESSIONS) / my + stats.ratio
    assert round(stats.variance, 9) == round(linear.var(ddof=1), 9)
    assert stats.linearized().mean == pytest.approx(linear.mean(), abs=1e-12)
    assert stats.standard_error == pytest.approx(math.sqrt(by_hand / len(TIME)), abs=1e-12)


def test_delta_method_variance_matches_the_spread_of_simulated_ratios():
    rng = np.random.default_rng(11)
    ratios, predicted = [], []
    for _ in range(2000):
        stats = RatioStats.of(*users(rng, 400))
        ratios.append(stats.ratio)
        predicted.append(stats.standard_error**2)
    # 2000 replicates: the empirical variance is within about 3% (its sd) of the truth.
    assert np.var(ratios, ddof=1) == pytest.approx(np.mean(predicted), rel=0.1)


def test_keeps_precision_with_large_means():
    x = 1e9 + np.array([1.0, 2.0, 4.0, 3.0])
    y = 1e9 + np.array([1.0, 1.0, 2.0, 2.0])
    stats = RatioStats.of(x, y)
    assert stats.comoment == pytest.approx(((x - x.mean()) * (y - y.mean())).sum(), rel=1e-9)
    halves = RatioStats.of(x[:2], y[:2]) + RatioStats.of(x[2:], y[2:])
    assert halves.comoment == pytest.approx(stats.comoment, rel=1e-9)


def test_effect_is_welch_on_the_linearized_values():
    rng = np.random.default_rng(5)
    control, treatment = users(rng, 300), users(rng, 350, scale=1.1)
    result = ratio_effect(RatioStats.of(*control), RatioStats.of(*treatment))

    def linearized(time, sessions):
        r = time.sum() / sessions.sum()
        return (time - r * sessions) / sessions.mean() + r

    reference = scipy_stats.ttest_ind(linearized(*treatment), linearized(*control),
                                      equal_var=False)
    interval = reference.confidence_interval(0.95)
    base = control[0].sum() / control[1].sum()
    assert round(result.control_mean, 9) == round(base, 9)
    assert round(result.p_value, 9) == round(float(reference.pvalue), 9)
    assert round(result.dof, 6) == round(float(reference.df), 6)
    assert round(result.lower, 9) == round(interval.low / base * 100, 9)
    assert round(result.upper, 9) == round(interval.high / base * 100, 9)
    assert round(result.difference, 9) == round(treatment[0].sum() / treatment[1].sum() - base, 9)


def test_ratios_of_a_log_are_sums_over_sessions():
    events = generate_events(200, seed=3)
    sessions = sessionize_events(events).table
    table = user_metrics(sessions)
    for name, (numerator, denominator) in RATIOS.items():
        stats = RatioStats.of(table[numerator], table[denominator])
        assert stats.n == len(table)
        if denominator == "sessions":
            assert stats.ratio == pytest.approx(sessions[numerator].mean(), rel=1e-12), name
    # Per-user means weigh users equally, the ratio weighs sessions: not the same number.
    ratio = RatioStats.of(table["time"], table["sessions"]).ratio
    assert ratio != pytest.approx(table["mean_time_per_session"].mean(), rel=1e-6)


@pytest.mark.parametrize(
    ("control", "treatment", "reason"),
    [
        (([], []), ([1.0, 2.0], [1.0, 1.0]), "no users in the control"),
        (([1.0], [1.0]), ([1.0, 2.0], [1.0, 1.0]), "fewer than 2 users in the control"),
        (([1.0, 2.0], [0.0, 0.0]), ([1.0, 2.0], [1.0, 1.0]), "the denominator is 0 in the control"),
        (([1.0, 2.0], [1.0, 2.0]), ([3.0, 6.0], [1.0, 2.0]), "zero variance in both groups"),
    ],
    ids=["no-control", "one-user", "zero-denominator", "zero-variance"],
)
def test_degenerate_data_gives_a_reason_not_an_exception(control, treatment, reason):
    result = ratio_effect(RatioStats.of(*control), RatioStats.of(*treatment))
    assert result.reason is not None and result.reason.startswith(reason)
    assert not result.significant
    assert math.isnan(result.p_value)


def test_undefined_ratio_and_variance_are_nan():
    assert math.isnan(RatioStats.of([1.0, 2.0], [0.0, 0.0]).ratio)
    assert math.isnan(RatioStats.of([1.0, 2.0], [0.0, 0.0]).variance)
    assert math.isnan(RatioStats.of([1.0], [2.0]).variance)
    with pytest.raises(ValueError, match="shape"):
        RatioStats.of([1.0, 2.0], [1.0])
