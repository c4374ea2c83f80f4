"""The confidence sequence by hand, its p-value, its width against Welch's, degenerate data,
and the A/A peeking simulation (false positives over ten looks).

The comparison with gbstats' own implementation is in test_engines.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from botify.analysis import columns as col
from botify.analysis.peeking import peeking_aa
from botify.analysis.sequential import (
    TUNING,
    half_width,
    p_value,
    rho_squared,
    sequential_effect,
)
from botify.analysis.sessions import sessionize_events, user_metrics
from botify.analysis.stats import SampleStats, welch_effect
from botify.errors import ConfigError
from botify.events import read_events

CONTROL = np.array([4.0, 5.5, 6.0, 3.5, 7.0, 5.0, 4.5, 6.5])
TREATMENT = np.array([6.0, 7.5, 5.0, 8.0, 9.5, 6.5, 7.0, 10.0, 8.5, 7.5, 6.0])


def by_hand(control, treatment, alpha, tuning):
    """Eq. 9 of Waudby-Smith et al. written out with numpy, for the absolute difference."""
    n = len(control) + len(treatment)
    v = control.var(ddof=1) / len(control) + treatment.var(ddof=1) / len(treatment)
    r2 = (-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / tuning
    return np.sqrt(v * n) * np.sqrt(2 * (n * r2 + 1) / (n * n * r2) * np.log(
        np.sqrt(n * r2 + 1) / alpha
    ))


@pytest.mark.parametrize(("alpha", "tuning"), [(0.05, 5000), (0.1, 50), (0.01, 19)],
                         ids=["default", "small-tuning", "tuned-at-n"])
def test_interval_matches_the_formula_by_hand(alpha, tuning):
    result = sequential_effect(SampleStats.of(CONTROL), SampleStats.of(TREATMENT), alpha, tuning)
    width = by_hand(CONTROL, TREATMENT, alpha, tuning)
    difference = TREATMENT.mean() - CONTROL.mean()
    assert round(result.half_width, 9) == round(width, 9)
    assert round(result.difference_lower, 9) == round(difference - width, 9)
    assert round(result.difference_upper, 9) == round(difference + width, 9)
    assert round(result.effect, 9) == round(difference / CONTROL.mean() * 100, 9)
    assert result.significant == (abs(difference) > width)
    assert result.tuning == tuning and result.reason is None


def test_relative_interval_uses_the_delta_method():
    result = sequential_effect(SampleStats.of(CONTROL), SampleStats.of(TREATMENT))
    m_c, m_t = CONTROL.mean(), TREATMENT.mean()
    v = TREATMENT.var(ddof=1) / len(TREATMENT) / m_c**2 + (
        CONTROL.var(ddof=1) / len(CONTROL) * m_t**2 / m_c**4
    )
    width = half_width(v, len(CONTROL) + len(TREATMENT)) * 100
    assert round(result.upper - result.effect, 9) == round(width, 9)
    assert round(result.effect - result.lower, 9) == round(width, 9)
    # Wider than the absolute interval over the control mean: the baseline is uncertain too.
    assert result.upper - result.lower > 2 * result.half_width / m_c * 100


@pytest.mark.parametrize("shift", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
def test_p_value_is_below_alpha_exactly_when_zero_is_excluded(shift):
    control = SampleStats.of(CONTROL)
    treatment = SampleStats.of(CONTROL + shift + np.linspace(-0.3, 0.3, len(CONTROL)))
    for alpha in (0.01, 0.05, 0.2):
        result = sequential_effect(control, treatment, alpha=alpha, tuning=20)
        assert (result.p_value < alpha) == result.significant
        assert 0 <= result.p_value <= 1


def test_p_value_at_the_edge_of_the_interval_is_alpha():
    v, n, alpha = 0.04, 400, 0.05
    edge = half_width(v, n, alpha)
    assert p_value(edge, v, n, alpha) == pytest.approx(alpha, rel=1e-9)
    assert p_value(0.0, v, n, alpha) == 1.0
    assert p_value(100.0, v, n, alpha) == 0.0  # an e-value too large for a float: p is 0


def test_wider_than_the_fixed_horizon_interval_and_tightest_at_the_tuning_size():
    # Against the z interval with the same standard error: the price of peeking.
    ratios = {
        n: half_width(1 / n, n) / (scipy_stats.norm.ppf(0.975) * math.sqrt(1 / n))
        for n in (500, 1000, 2500, 5000, 10000, 50000)
    }
    assert all(r > 1 for r in ratios.values())
    assert min(ratios, key=ratios.get) == TUNING
    assert ratios[5000] == pytest.approx(1.55, abs=0.005)
    welch = welch_effect(SampleStats.of(CONTROL), SampleStats.of(TREATMENT))
    sequential = sequential_effect(SampleStats.of(CONTROL), SampleStats.of(TREATMENT))
    assert sequential.half_width > welch.half_width


def test_rho_squared_has_gbstats_form():
    assert rho_squared(0.05, 5000) == pytest.approx(
        (-2 * math.log(0.05) + math.log(1 - 2 * math.log(0.05))) / 5000, rel=1e-12
    )


def test_cuped_baselines_set_the_relative_effect():
    adjusted_c, adjusted_t = SampleStats.of(CONTROL - 0.2), SampleStats.of(TREATMENT + 0.1)
    result = sequential_effect(adjusted_c, adjusted_t, baselines=(CONTROL.mean(), 7.0))
    assert result.effect == pytest.approx(
        (adjusted_t.mean - adjusted_c.mean) / CONTROL.mean() * 100, rel=1e-12
    )


@pytest.mark.parametrize(
    ("control", "treatment", "reason"),
    [
        ([], [1.0, 2.0], "no users in the control"),
        ([1.0, 2.0], [], "no users in the treatment"),
        ([1.0], [1.0, 2.0], "fewer than 2 users in the control"),
        ([2.0, 2.0], [3.0, 3.0], "zero variance in both groups"),
    ],
    ids=["no-control", "no-treatment", "one-user", "zero-variance"],
)
def test_degenerate_data_gives_a_reason_not_an_exception(control, treatment, reason):
    result = sequential_effect(SampleStats.of(control), SampleStats.of(treatment))
    assert result.reason is not None and result.reason.startswith(reason)
    assert not result.significant
    assert math.isnan(result.p_value)


def test_zero_control_mean_keeps_the_absolute_interval():
    result = sequential_effect(SampleStats.of([-1.0, 1.0, 0.0]), SampleStats.of([5.0, 6.0, 7.0]))
    assert result.reason.startswith("the control mean is 0")
    assert math.isnan(result.effect) and math.isnan(result.lower)
    assert result.half_width > 0 and result.significant == (result.p_value < 0.05)


@pytest.mark.parametrize(("alpha", "tuning"), [(0.0, 5000), (1.0, 5000), (0.05, 0), (0.05, -1)],
                         ids=["alpha-0", "alpha-1", "tuning-0", "tuning-negative"])
def test_bad_parameters_are_a_config_error(alpha, tuning):
    with pytest.raises(ConfigError, match="alpha|tuning"):
        sequential_effect(SampleStats.of(CONTROL), SampleStats.of(TREATMENT), alpha, tuning)


def test_peeking_inflates_the_fixed_interval_and_not_the_sequential_one():
    runs, alpha = 2000, 0.05
    result = peeking_aa(runs, looks=10, users_per_look=200, alpha=alpha, rng=0)
    # Were the true rate alpha, more false positives than this would happen 1 time in 1000.
    ceiling = scipy_stats.binom.ppf(0.999, runs, alpha)
    assert result.sequential[-1] <= ceiling
    # Peeking ten times: the fixed interval's rate is far above alpha (about 19%), beyond doubt.
    low, _ = result.interval(result.fixed[-1], level=0.998)
    assert low > 2 * alpha
    # One planned look keeps the fixed interval's level.
    assert result.fixed_last <= ceiling
    assert list(result.fixed) == sorted(result.fixed) and result.fixed[0] < result.fixed[-1]
    assert result.sequential[-1] < result.fixed[-1]


def test_peeking_on_resampled_values_of_a_log(ab_logs):
    users = user_metrics(sessionize_events(read_events([ab_logs["post"]])).table)
    values = users[col.MEAN_TIME_PER_SESSION].to_numpy()
    runs, alpha = 500, 0.05
    result = peeking_aa(runs, looks=10, users_per_look=100, values=values, rng=1)
    assert result.sequential[-1] <= scipy_stats.binom.ppf(0.999, runs, alpha)
    assert result.interval(result.fixed[-1], level=0.998)[0] > alpha
    again = peeking_aa(runs, looks=10, users_per_look=100, values=values, rng=1)
    assert again == result


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"experiments": 0}, "at least 1 experiment"), ({"users_per_look": 1}, "2 users per look"),
     ({"values": np.ones(10)}, "2 distinct values")],
    ids=["no-experiment", "one-user", "constant-values"],
)
def test_peeking_bad_parameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        peeking_aa(**kwargs)
