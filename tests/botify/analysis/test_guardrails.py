"""Guardrails: their specs, and the non-inferiority test against scipy's one-sided Welch test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from botify.analysis import columns as col
from botify.analysis import sequential
from botify.analysis.guardrails import (
    DEFAULT_GUARDRAILS,
    FAILS,
    HOLDS,
    UNCLEAR,
    guardrail,
    non_inferiority,
    parse_guardrail,
    parse_guardrails,
)
from botify.analysis.stats import SampleStats
from botify.errors import ConfigError

LATENCY = guardrail(col.MEAN_REQUEST_LATENCY, 1.0, relative=False)
SESSIONS = guardrail(col.SESSIONS, 2.0, relative=True)


@pytest.mark.parametrize(
    ("spec", "metric", "margin", "relative", "limit"),
    [
        ("mean_request_latency:+1", col.MEAN_REQUEST_LATENCY, 1.0, False, "+1 ms"),
        ("mean_request_latency:0.5", col.MEAN_REQUEST_LATENCY, 0.5, False, "+0.5 ms"),
        ("sessions:-2%", col.SESSIONS, 2.0, True, "-2%"),
        (" sessions:2.5% ", col.SESSIONS, 2.5, True, "-2.5%"),
        ("ratio_time_per_session:-1%", "ratio_time_per_session", 1.0, True, "-1%"),
    ],
    ids=["absolute", "unsigned", "relative", "unsigned-relative", "ratio"],
)
def test_specs_read_with_the_harmful_side(spec, metric, margin, relative, limit):
    rail = parse_guardrail(spec)
    assert (rail.metric, rail.margin, rail.relative, rail.limit) == (metric, margin, relative,
                                                                     limit)
    assert parse_guardrail(rail.spec) == rail


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("latency", "--guardrail: 'latency' is not METRIC:MARGIN"),
        ("sessions:-2 %", "is not METRIC:MARGIN"),
        ("sessions:-x%", "is not METRIC:MARGIN"),
        ("speed:+1", "--guardrail: unknown metric 'speed' in 'speed:+1' (known: time, sessions"),
        ("sessions:+2%", "higher sessions is better, so its margin is how far it may fall: "
         "write sessions:-2%"),
        ("mean_request_latency:-1", "lower mean_request_latency is better, so its margin is how "
         "far it may rise: write mean_request_latency:+1"),
    ],
    ids=["no-margin", "space", "not-a-number", "unknown-metric", "sign-higher", "sign-lower"],
)
def test_bad_specs_are_one_clear_line(spec, message):
    with pytest.raises(ConfigError) as caught:
        parse_guardrail(spec)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_lists_of_specs():
    assert parse_guardrails(None, col.MEAN_TIME_PER_SESSION) == DEFAULT_GUARDRAILS
    # The default on sessions is dropped when sessions is the primary metric.
    assert parse_guardrails(None, col.SESSIONS) == (LATENCY,)
    assert parse_guardrails(["none"], col.MEAN_TIME_PER_SESSION) == ()
    with pytest.raises(ConfigError, match="a second guardrail on sessions"):
        parse_guardrails(["sessions:-2%", "sessions:-3%"], col.TIME)
    with pytest.raises(ConfigError, match="plan.toml: analysis.guardrails.1.: time is the primary"):
        parse_guardrails(["sessions:-2%", "time:-1%"], col.TIME,
                         lambda i: f"plan.toml: analysis.guardrails[{i}]")


def _welch_p(control, treatment, shift, alternative):
    """scipy's one-sided Welch p-value of the treatment shifted by ``shift`` against the control."""
    return float(scipy_stats.ttest_ind(np.asarray(treatment) + shift, control, equal_var=False,
                                       alternative=alternative).pvalue)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lower_is_better_absolute_margin_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    control = rng.normal(4.0, 1.0, 400)
    treatment = rng.normal(4.0 + rng.uniform(0, 1.5), 1.3, 350)
    check = non_inferiority(SampleStats.of(control), SampleStats.of(treatment), LATENCY)
    # H0: mean_t - mean_c >= 1, rejected when t - 1 is significantly less than the control.
    expected = _welch_p(control, treatment, -1.0, "less")
    assert round(check.p_value, 9) == round(expected, 9)
    dof = scipy_stats.ttest_ind(treatment, control, equal_var=False).df
    se = math.sqrt(control.var(ddof=1) / 400 + treatment.var(ddof=1) / 350)
    difference = treatment.mean() - control.mean()
    assert round(check.worst, 9) == round(difference + scipy_stats.t.ppf(0.95, dof) * se, 9)
    assert check.limit == 1.0
    assert (check.status == HOLDS) == (expected < 0.05)
    lower_bound = difference - scipy_stats.t.ppf(0.95, dof) * se
    assert (check.status == FAILS) == (lower_bound > 1.0)


@pytest.mark.parametrize("seed", [3, 4])
def test_higher_is_better_relative_margin_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    control = rng.poisson(3.0, 2000).astype(float)
    treatment = rng.poisson(3.0 * rng.uniform(0.95, 1.03), 2000).astype(float)
    check = non_inferiority(SampleStats.of(control), SampleStats.of(treatment), SESSIONS)
    margin = 0.02 * control.mean()
    # H0: mean_t - mean_c <= -margin, rejected when t + margin is significantly greater.
    assert round(check.p_value, 9) == round(_welch_p(control, treatment, margin, "greater"), 9)
    assert round(check.limit, 12) == round(-margin, 12)
    assert round(check.effect, 9) == round((treatment.mean() / control.mean() - 1) * 100, 9)
    assert round(check.worst_effect, 9) == round(check.worst / control.mean() * 100, 9)


def test_holds_fails_unclear_on_known_data():
    control = SampleStats.of(np.tile([3.0, 5.0], 500))  # mean 4, sd 1
    assert non_inferiority(control, SampleStats.of(np.tile([3.1, 5.1], 500)),
                           LATENCY).status == HOLDS
    assert non_inferiority(control, SampleStats.of(np.tile([5.0, 7.0], 500)),
                           LATENCY).status == FAILS
    small = SampleStats.of([3.0, 5.0, 4.0, 6.0])
    assert non_inferiority(small, SampleStats.of([4.0, 6.0, 5.0, 7.0]),
                           LATENCY).status == UNCLEAR


def test_the_always_valid_bound_is_the_confidence_sequence():
    rng = np.random.default_rng(5)
    control = SampleStats.of(rng.normal(4.0, 1.0, 800))
    treatment = SampleStats.of(rng.normal(4.6, 1.0, 800))
    fixed = non_inferiority(control, treatment, LATENCY)
    always = non_inferiority(control, treatment, LATENCY, always_valid=True)
    squared_error = control.variance / control.n + treatment.variance / treatment.n
    width = sequential.half_width(squared_error, 1600, 0.05)
    assert always.worst == pytest.approx(always.difference + width, abs=1e-12)
    assert always.worst > fixed.worst  # wider: valid at every look
    assert (always.status == HOLDS) == (always.p_value < 0.05)


def test_degenerate_data_is_a_reason_not_an_exception():
    one = non_inferiority(SampleStats.of([1.0]), SampleStats.of([1.0, 2.0]), LATENCY)
    assert one.status == UNCLEAR and one.reason == "fewer than 2 users in the control"
    zero = non_inferiority(SampleStats.of([0.0, 0.0]), SampleStats.of([1.0, 2.0]), SESSIONS)
    assert zero.status == UNCLEAR and "control mean is 0" in zero.reason
    exact = non_inferiority(SampleStats.of([4.0, 4.0]), SampleStats.of([4.5, 4.5]), LATENCY)
    assert exact.status == HOLDS and "exact" in exact.reason
    worse = non_inferiority(SampleStats.of([4.0, 4.0]), SampleStats.of([5.5, 5.5]), LATENCY)
    assert worse.status == FAILS
