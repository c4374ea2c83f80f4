"""The statistics against two independent engines, GrowthBook's gbstats and Spotify's confidence,
on the same sufficient statistics.

Where the definitions match the results agree to 1e-6 (most to 1e-9). Where they differ by
design, the test says how and checks that they agree once the difference is accounted for:

- gbstats' relative effect takes the control mean as uncertain (the delta method on the ratio of
  the two means), ours (the course's) takes it as known: the absolute interval over the control
  mean. The sequential interval uses gbstats' relative form, so there they agree.
- spotify-confidence's z-test uses the normal quantile where Welch uses Student's t.
- spotify-confidence's regression adjustment (its CUPED) estimates the covariate's variance and
  covariance with ``ddof=0`` where ours uses ``ddof=1`` throughout.

spotify-confidence's ``Experiment`` classes do not run on pandas 3 (their ``groupby.apply`` relies
on the grouping column being passed to the function, which pandas 3 stopped doing), so the tests
call its computation modules, the functions the classes apply to each comparison.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)
from scipy import stats as scipy_stats
from spotify_confidence.analysis.frequentist.confidence_computers import (
    t_test_computer,
    z_test_computer,
    z_test_linreg_computer,
)

from botify.analysis.power import required_users, users_per_arm
from botify.analysis.ratio import RatioStats, ratio_effect
from botify.analysis.sequential import sequential_effect
from botify.analysis.stats import SampleStats, cuped_fit, welch_effect

DECIMALS = 9


@pytest.fixture(scope="module")
def sample():
    """Two groups of skewed per-user values, a correlated pre-period covariate, sessions."""
    rng = np.random.default_rng(17)
    sizes = {"control": 400, "treatment": 450}
    groups = {}
    for name, n in sizes.items():
        activity = rng.lognormal(0.0, 0.6, n)
        lift = 1.08 if name == "treatment" else 1.0
        sessions = rng.poisson(2.0 * activity) + 1.0
        groups[name] = {
            "y": activity * lift * rng.lognormal(0.0, 0.4, n),
            "x": activity * rng.lognormal(0.0, 0.4, n),
            "time": sessions * rng.gamma(3.0, 1.0 * lift, n),
            "sessions": sessions,
        }
    return groups


def gb_mean(values):
    return SampleMeanStatistic(n=len(values), sum=float(values.sum()),
                               sum_squares=float(np.square(values).sum()))


def gb_ratio(numerator, denominator):
    return RatioStatistic(
        n=len(numerator), m_statistic=gb_mean(numerator), d_statistic=gb_mean(denominator),
        m_d_sum_of_products=float((numerator * denominator).sum()),
    )


def gb_adjusted(post, pre):
    return RegressionAdjustedStatistic(
        n=len(post), post_statistic=gb_mean(post), pre_statistic=gb_mean(pre),
        post_pre_sum_of_products=float((post * pre).sum()), theta=0.0,
    )


def sc_comparison(control: SampleStats, treatment: SampleStats, alpha: float) -> pd.DataFrame:
    """One comparison row as spotify-confidence's computers take it (groups 1 and 2)."""
    return pd.DataFrame({
        "point_estimate_1": [control.mean], "point_estimate_2": [treatment.mean],
        "variance_1": [control.variance], "variance_2": [treatment.variance],
        "denominator_1": [control.n], "denominator_2": [treatment.n],
        "difference": [treatment.mean - control.mean], "alpha": [alpha],
        "preference_used_in_test": ["two-sided"], "null_hypothesis": [0.0],
    })


def sc_interval(computer, control: SampleStats, treatment: SampleStats, alpha=0.05):
    row = sc_comparison(control, treatment, alpha)
    row["std_err"] = computer.std_err(row, denominator="denominator")
    low, high = computer.ci(row, "alpha", denominator="denominator")
    p = computer.p_value(row, denominator="denominator")
    return float(np.asarray(low)[0]), float(np.asarray(high)[0]), float(np.asarray(p)[0])


def same(a, b, decimals=DECIMALS):
    assert round(float(a), decimals) == round(float(b), decimals), (a, b)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_welch_matches_gbstats_absolute(sample, alpha):
    c, t = sample["control"]["y"], sample["treatment"]["y"]
    ours = welch_effect(SampleStats.of(c), SampleStats.of(t), alpha=alpha)
    test = TwoSidedTTest(gb_mean(c), gb_mean(t),
                         FrequentistConfig(alpha=alpha, difference_type="absolute"))
    theirs = test.compute_result()
    same(theirs.expected, ours.difference)
    same(theirs.ci[0], ours.difference - ours.half_width)
    same(theirs.ci[1], ours.difference + ours.half_width)
    same(theirs.p_value, ours.p_value)
    same(test.dof, ours.dof)


def test_welch_relative_differs_from_gbstats_by_the_control_means_uncertainty(sample):
    c, t = sample["control"]["y"], sample["treatment"]["y"]
    control, treatment = SampleStats.of(c), SampleStats.of(t)
    ours = welch_effect(control, treatment)
    theirs = TwoSidedTTest(gb_mean(c), gb_mean(t)).compute_result()  # relative by default
    same(theirs.expected * 100, ours.effect)
    # Ours: the absolute interval over the control mean (the course's). Theirs: the delta method,
    # which adds the control mean's uncertainty; rebuilt from our statistics, they agree.
    m_c, m_t = control.mean, treatment.mean
    delta = treatment.variance / treatment.n / m_c**2 + (
        control.variance / control.n * m_t**2 / m_c**4
    )
    quantile = ours.half_width / math.sqrt(
        control.variance / control.n + treatment.variance / treatment.n
    )
    same(quantile, scipy_stats.t.ppf(0.975, ours.dof))
    same(theirs.ci[1] - theirs.expected, quantile * math.sqrt(delta))
    assert (theirs.ci[1] - theirs.ci[0]) * 100 > ours.upper - ours.lower


def test_welch_matches_spotify_confidence_t_test(sample):
    c, t = sample["control"]["y"], sample["treatment"]["y"]
    control, treatment = SampleStats.of(c), SampleStats.of(t)
    # Its variance from sums, as its Experiment computes it per group.
    groups = pd.DataFrame({"numerator": [c.sum(), t.sum()],
                           "numerator_sum_of_squares": [np.square(c).sum(), np.square(t).sum()],
                           "denominator": [len(c), len(t)]})
    variances = t_test_computer.variance(groups, numerator="numerator", denominator="denominator",
                                         numerator_sum_of_squares="numerator_sum_of_squares")
    same(variances[0], control.variance)
    same(variances[1], treatment.variance)
    ours = welch_effect(control, treatment)
    low, high, p = sc_interval(t_test_computer, control, treatment)
    same(low, ours.difference - ours.half_width)
    same(high, ours.difference + ours.half_width)
    same(p, ours.p_value)


def test_spotify_confidence_z_test_is_welch_with_the_normal_quantile(sample):
    control = SampleStats.of(sample["control"]["y"])
    treatment = SampleStats.of(sample["treatment"]["y"])
    ours = welch_effect(control, treatment)
    low, high, p = sc_interval(z_test_computer, control, treatment)
    standard_error = ours.difference / scipy_stats.t.isf(ours.p_value / 2, ours.dof)
    z_half = scipy_stats.norm.ppf(0.975) * standard_error
    same((high - low) / 2, z_half)
    same(p, 2 * scipy_stats.norm.sf(ours.difference / standard_error))
    # The t quantile is the larger: Welch's interval is wider by exactly their ratio.
    same(ours.half_width / z_half, scipy_stats.t.ppf(0.975, ours.dof) / scipy_stats.norm.ppf(0.975))
    assert ours.half_width > z_half


def test_ratio_statistics_match_gbstats(sample):
    for group in sample.values():
        ours = RatioStats.of(group["time"], group["sessions"])
        theirs = gb_ratio(group["time"], group["sessions"])
        same(ours.ratio, theirs.mean)
        same(ours.variance, theirs.variance)
        same(ours.covariance, theirs.covariance)


def test_ratio_effect_matches_gbstats_absolute(sample):
    c, t = sample["control"], sample["treatment"]
    ours = ratio_effect(RatioStats.of(c["time"], c["sessions"]),
                        RatioStats.of(t["time"], t["sessions"]))
    test = TwoSidedTTest(gb_ratio(c["time"], c["sessions"]), gb_ratio(t["time"], t["sessions"]),
                         FrequentistConfig(difference_type="absolute"))
    theirs = test.compute_result()
    same(theirs.expected, ours.difference)
    same(theirs.ci[0], ours.difference - ours.half_width)
    same(theirs.ci[1], ours.difference + ours.half_width)
    same(theirs.p_value, ours.p_value)
    same(test.dof, ours.dof)


def test_cuped_matches_gbstats_regression_adjustment(sample):
    c, t = sample["control"], sample["treatment"]
    y = np.concatenate([c["y"], t["y"]])
    x = np.concatenate([c["x"], t["x"]])
    fit = cuped_fit(y, x)
    n_c = len(c["y"])
    adjusted = fit.adjust(y, x)
    ours = welch_effect(SampleStats.of(adjusted[:n_c]), SampleStats.of(adjusted[n_c:]),
                        baseline=c["y"].mean())
    test = TwoSidedTTest(gb_adjusted(c["y"], c["x"]), gb_adjusted(t["y"], t["x"]),
                         FrequentistConfig(difference_type="absolute"))
    theirs = test.compute_result()
    same(test.stat_a.theta, fit.theta)  # gbstats pools both groups too
    same(theirs.expected, ours.difference)
    same(theirs.ci[0], ours.difference - ours.half_width)
    same(theirs.ci[1], ours.difference + ours.half_width)
    same(theirs.p_value, ours.p_value)
    relative = TwoSidedTTest(gb_adjusted(c["y"], c["x"]), gb_adjusted(t["y"], t["x"]))
    same(relative.compute_result().expected * 100, ours.effect)  # over the unadjusted mean


def test_cuped_against_spotify_confidence_linreg_differs_by_ddof(sample):
    c, t = sample["control"], sample["treatment"]
    y = np.concatenate([c["y"], t["y"]])
    x = np.concatenate([c["x"], t["x"]])
    fit = cuped_fit(y, x)
    groups = pd.DataFrame({
        "numerator": [c["y"].sum(), t["y"].sum()],
        "numerator_sum_of_squares": [np.square(c["y"]).sum(), np.square(t["y"]).sum()],
        "denominator": [len(c["y"]), len(t["y"])],
        "feature": [c["x"].sum(), t["x"].sum()],
        "feature_sumsq": [np.square(c["x"]).sum(), np.square(t["x"]).sum()],
        "feature_cross": [(c["x"] * c["y"]).sum(), (t["x"] * t["y"]).sum()],
    })
    names = dict(numerator="numerator", numerator_sum_of_squares="numerator_sum_of_squares",
                 denominator="denominator", feature="feature", feature_sumsq="feature_sumsq",
                 feature_cross="feature_cross")
    estimates = z_test_linreg_computer.point_estimate(groups, **names)
    same(groups["regression_parameters"][0], fit.theta)
    theirs = z_test_linreg_computer.variance(groups, **names)
    for i, group in enumerate((c, t)):
        adjusted = fit.adjust(group["y"], group["x"])
        same(estimates[i], adjusted.mean())
        # Ours: the ddof=1 variance of the adjusted values. Theirs: ddof=1 for y, ddof=0 for the
        # covariate's terms; the difference is theta^2 var(x) - 2 theta cov(x, y) scaled by
        # 1/(n-1) - 1/n.
        n = len(group["y"])
        dx, dy = group["x"] - group["x"].mean(), group["y"] - group["y"].mean()
        covariate_terms = fit.theta**2 * (dx @ dx) - 2 * fit.theta * (dx @ dy)
        same(adjusted.var(ddof=1) - covariate_terms * (1 / (n - 1) - 1 / n), theirs[i])


@pytest.mark.parametrize(("alpha", "tuning"), [(0.05, 5000), (0.05, 500), (0.1, 20000)],
                         ids=["default", "tuned-small", "tuned-large"])
def test_sequential_matches_gbstats(sample, alpha, tuning):
    c, t = sample["control"]["y"], sample["treatment"]["y"]
    ours = sequential_effect(SampleStats.of(c), SampleStats.of(t), alpha=alpha, tuning=tuning)
    for kind in ("absolute", "relative"):
        config = SequentialConfig(alpha=alpha, difference_type=kind,
                                  sequential_tuning_parameter=tuning)
        theirs = SequentialTwoSidedTTest(gb_mean(c), gb_mean(t), config).compute_result()
        if kind == "absolute":
            same(theirs.expected, ours.difference)
            same(theirs.ci[0], ours.difference_lower)
            same(theirs.ci[1], ours.difference_upper)
            same(theirs.p_value, ours.p_value)
        else:
            same(theirs.expected * 100, ours.effect)
            same(theirs.ci[0] * 100, ours.lower)
            same(theirs.ci[1] * 100, ours.upper)


def test_sequential_on_ratios_and_cuped_matches_gbstats(sample):
    c, t = sample["control"], sample["treatment"]
    ours = sequential_effect(RatioStats.of(c["time"], c["sessions"]).linearized(),
                             RatioStats.of(t["time"], t["sessions"]).linearized())
    theirs = SequentialTwoSidedTTest(gb_ratio(c["time"], c["sessions"]),
                                     gb_ratio(t["time"], t["sessions"])).compute_result()
    same(theirs.ci[0] * 100, ours.lower)
    same(theirs.ci[1] * 100, ours.upper)

    y = np.concatenate([c["y"], t["y"]])
    x = np.concatenate([c["x"], t["x"]])
    adjusted = cuped_fit(y, x).adjust(y, x)
    n_c = len(c["y"])
    ours = sequential_effect(SampleStats.of(adjusted[:n_c]), SampleStats.of(adjusted[n_c:]),
                             baselines=(c["y"].mean(), t["y"].mean()))
    theirs = SequentialTwoSidedTTest(gb_adjusted(c["y"], c["x"]),
                                     gb_adjusted(t["y"], t["x"])).compute_result()
    same(theirs.expected * 100, ours.effect)
    same(theirs.ci[0] * 100, ours.lower)
    same(theirs.ci[1] * 100, ours.upper)


@pytest.mark.parametrize(("mde", "alpha", "power", "treatments"),
                         [(0.1, 0.05, 0.8, 1), (0.05, 0.01, 0.9, 1), (0.2, 0.05, 0.8, 3)],
                         ids=["default", "strict", "three-treatments"])
def test_required_users_match_spotify_confidence(sample, mde, alpha, power, treatments):
    variance = SampleStats.of(sample["control"]["y"]).variance
    z_alpha = scipy_stats.norm.ppf(1 - alpha / (2 * treatments))
    total = z_test_computer.required_sample_size(
        binary=False, non_inferiority=False, hypothetical_effect=mde, control_avg=1.0,
        control_var=variance, z_alpha=z_alpha, kappa=1.0, proportion_of_total=1.0,
        z_power=scipy_stats.norm.ppf(power),
    )
    # Theirs: both groups together, each rounded up as ours is.
    n = required_users(variance, mde, alpha, power, treatments)
    assert float(total) == 2 * n
    assert n == math.ceil(users_per_arm(variance, mde, alpha, power, treatments))
