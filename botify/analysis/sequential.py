"""Always-valid intervals: a confidence sequence for the difference of two means.

A fixed-horizon interval (:func:`botify.analysis.stats.welch_effect`) covers the truth with
probability ``1 - alpha`` at one look decided in advance; looked at every day and stopped at the
first significant look, it calls far more than ``alpha`` of A/A tests significant. The asymptotic
confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas ("Time-uniform central limit
theory and asymptotic confidence sequences", 2023, eq. 9) covers the truth at every sample size
*simultaneously* with probability ``1 - alpha`` (asymptotically): an experimenter may look as often
as they like and stop when it excludes 0. It is the form GrowthBook's gbstats uses for its
sequential testing, with the same tuning constant and the same relative effect; this module is
checked against it in ``tests/botify/analysis/test_engines.py``.

With ``N = n_c + n_t`` users, ``V`` the squared standard error of the estimate and
``rho^2 = (-2 ln alpha + ln(1 - 2 ln alpha)) / tuning``, the interval is::

    estimate ± sqrt(N V) * sqrt(2 (N rho^2 + 1) / (N^2 rho^2) * ln(sqrt(N rho^2 + 1) / alpha))

``tuning`` (gbstats' ``sequential_tuning_parameter``, default 5000) is the total number of users at
which the sequence is tightest against the fixed-horizon interval: at alpha 0.05 it is 1.55 times
as wide there, 1.72 times at a fifth of it and 1.65 times at ten times it; the price of looking at
every sample size. Choose it near the users the experiment expects in all; any positive value
keeps the guarantee, a poor one only widens the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from botify.analysis.stats import SampleStats, too_few_users
from botify.errors import ConfigError

TUNING = 5000.0
"""The default tuning constant: the total users at which the sequence is tightest (gbstats')."""


@dataclass(frozen=True)
class SequentialEffect:
    """A treatment's effect against the control with its always-valid interval.

    Like :class:`botify.analysis.stats.Effect`: ``effect``, ``lower`` and ``upper`` are in percent
    of the control mean; ``difference`` and ``half_width`` are in the metric's units.

    Attributes:
        effect: the relative effect, ``(mean_t - mean_c) / mean_c`` in percent.
        lower: the lower end of the relative interval, in percent. Its half-width comes from the
            delta-method variance of the ratio of the two means (the control mean is uncertain
            too), as in gbstats; so it is not the absolute interval divided by the control mean.
        upper: the upper end, in percent.
        control_mean: the control's mean.
        treatment_mean: the treatment's mean.
        significant: True when the interval of the difference excludes 0 (the absolute interval;
            the relative one almost always agrees).
        p_value: the always-valid p-value of the difference at this look (``1 / e-value``, capped
            at 1); below ``alpha`` exactly when ``significant``.
        difference: ``mean_t - mean_c``.
        half_width: the half-width of the interval of the difference.
        control_n: users in the control.
        treatment_n: users in the treatment.
        tuning: the tuning constant used.
        reason: why some fields are NaN, or None when everything was computed.
    """

    effect: float
    lower: float
    upper: float
    control_mean: float
    treatment_mean: float
    significant: bool
    p_value: float
    difference: float
    half_width: float
    control_n: int
    treatment_n: int
    tuning: float
    reason: str | None = None

    @property
    def difference_lower(self) -> float:
        """The lower end of the interval of the difference."""
        return self.difference - self.half_width

    @property
    def difference_upper(self) -> float:
        """The upper end of the interval of the difference."""
        return self.difference + self.half_width


def _check(alpha: float, tuning: float) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    if not (tuning > 0 and math.isfinite(tuning)):
        raise ConfigError(f"the sequential tuning constant must be positive, got {tuning}")


def rho_squared(alpha: float, tuning: float = TUNING) -> float:
    """The mixing variance that makes the sequence tightest at ``tuning`` total users."""
    _check(alpha, tuning)
    log_alpha = math.log(alpha)
    return (-2 * log_alpha + math.log(1 - 2 * log_alpha)) / tuning


def half_width(
    squared_error: float, n_total: int, alpha: float = 0.05, tuning: float = TUNING
) -> float:
    """The half-width of the confidence sequence around an estimate.

    Args:
        squared_error: the estimate's squared standard error (``var_c/n_c + var_t/n_t`` for a
            difference of means).
        n_total: the users the estimate is made from (both groups).
        alpha: the level: the sequence covers at all sample sizes at once with ``1 - alpha``.
        tuning: the total users at which the sequence is tightest.

    Returns:
        The half-width, NaN when ``n_total`` is not positive.

    Raises:
        ConfigError: alpha outside (0, 1) or a non-positive tuning constant.
    """
    r2 = rho_squared(alpha, tuning)
    if n_total <= 0:
        return math.nan
    growth = n_total * r2 + 1
    return math.sqrt(squared_error * n_total) * math.sqrt(
        2 * growth / (n_total * n_total * r2) * math.log(math.sqrt(growth) / alpha)
    )


def p_value(
    estimate: float, squared_error: float, n_total: int, alpha: float = 0.05,
    tuning: float = TUNING,
) -> float:
    """The always-valid p-value of ``estimate = 0`` at this look (the inverse of an e-value).

    It is below ``alpha`` exactly when the sequence (with the same ``alpha``, which sets the
    mixing variance) excludes 0; NaN when the squared error is not positive.
    """
    r2 = rho_squared(alpha, tuning)
    if squared_error <= 0 or n_total <= 0:
        return math.nan
    growth = n_total * r2 + 1
    exponent = r2 * n_total * estimate * estimate / squared_error / (2 * growth)
    # 1 / e with e = exp(exponent) / sqrt(growth); computed in logs, so a huge e gives 0, not inf.
    return min(math.exp(0.5 * math.log(growth) - exponent), 1.0)


def sequential_effect(
    control: SampleStats,
    treatment: SampleStats,
    alpha: float = 0.05,
    tuning: float = TUNING,
    baselines: tuple[float, float] | None = None,
) -> SequentialEffect:
    """The effect of a treatment and its always-valid (confidence-sequence) interval.

    Args:
        control: the control's per-user values, summarized.
        treatment: the treatment's.
        alpha: the level: the intervals of all looks cover together with ``1 - alpha``.
        tuning: the total users at which the sequence is tightest (gbstats' default 5000).
        baselines: the unadjusted (control, treatment) means for the relative effect and its
            variance, when the statistics are CUPED-adjusted (as gbstats does); by default the
            means of the statistics themselves.

    Returns:
        The effect; ``reason`` is set and the undefined fields are NaN (``significant`` False) when
        a group has fewer than two users or both variances are 0; with a zero control mean the
        absolute interval is given and the relative fields are NaN.

    Raises:
        ConfigError: alpha outside (0, 1) or a non-positive tuning constant.
    """
    _check(alpha, tuning)
    nan = math.nan
    base_c, base_t = (control.mean, treatment.mean) if baselines is None else baselines
    difference = treatment.mean - control.mean

    def result(reason: str | None, **values: float) -> SequentialEffect:
        fields = dict(
            effect=nan, lower=nan, upper=nan, significant=False, p_value=nan, half_width=nan
        )
        fields.update(values)
        return SequentialEffect(
            control_mean=control.mean if control.n else nan,
            treatment_mean=treatment.mean if treatment.n else nan,
            difference=difference if control.n and treatment.n else nan,
            control_n=control.n,
            treatment_n=treatment.n,
            tuning=tuning,
            reason=reason,
            **fields,
        )

    relative = difference / base_c * 100 if base_c != 0 else nan
    problem = too_few_users(control, treatment, relative)
    if problem is not None:
        reason, effect = problem
        return result(reason, effect=effect)
    var_c = control.variance / control.n
    var_t = treatment.variance / treatment.n
    squared_error = var_c + var_t
    if squared_error == 0:
        return result(
            "zero variance in both groups: no interval",
            effect=relative, lower=relative, upper=relative,
        )
    n_total = control.n + treatment.n
    width = half_width(squared_error, n_total, alpha, tuning)
    absolute = dict(
        significant=bool(abs(difference) > width),
        p_value=p_value(difference, squared_error, n_total, alpha, tuning),
        half_width=width,
    )
    if base_c == 0:
        return result("the control mean is 0: no relative effect", **absolute)
    # The delta method on (mean_t - mean_c) / mean_c, as gbstats computes its relative effect.
    relative_error = var_t / base_c**2 + var_c * base_t**2 / base_c**4
    relative_width = half_width(relative_error, n_total, alpha, tuning) * 100
    return result(
        None, effect=relative, lower=relative - relative_width, upper=relative + relative_width,
        **absolute,
    )
