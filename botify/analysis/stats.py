"""The statistics of the A/B analysis: pure functions over arrays and sufficient statistics.

Nothing here knows about DataFrames or files. Degenerate inputs (no users, one user, zero
variance, a zero control mean) give a result whose ``reason`` says why it is incomplete, never an
exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats


@dataclass(frozen=True)
class SampleStats:
    """Sufficient statistics of a sample: its size, mean and sum of squared deviations.

    The sum of squared deviations (``m2``) is kept instead of the raw sum of squares, which
    cancels catastrophically when the mean is large against the spread (latencies in ms); the two
    are interchangeable (:attr:`sum_squares`). Instances add up like the samples they describe
    (Chan et al.'s parallel update), so statistics of parts combine into those of the whole.
    """

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray | Sequence[float]) -> SampleStats:
        """The statistics of an array of values (NaNs are not allowed)."""
        array = np.asarray(values, dtype=np.float64)
        if array.size == 0:
            return cls()
        mean = float(array.mean())
        return cls(int(array.size), mean, float(np.square(array - mean).sum()))

    @classmethod
    def from_sums(cls, n: int, total: float, sum_squares: float) -> SampleStats:
        """The statistics from ``n``, the sum and the sum of squares of a sample."""
        if n == 0:
            return cls()
        mean = total / n
        return cls(int(n), mean, max(sum_squares - total * mean, 0.0))

    def __add__(self, other: SampleStats) -> SampleStats:
        if self.n == 0:
            return other
        if other.n == 0:
            return self
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        return SampleStats(n, mean, m2)

    @property
    def sum(self) -> float:
        """The sum of the values."""
        return self.n * self.mean

    @property
    def sum_squares(self) -> float:
        """The sum of the squared values."""
        return self.m2 + self.n * self.mean * self.mean

    @property
    def variance(self) -> float:
        """The sample variance (ddof=1, as pandas' ``.var()`` in the course); NaN below 2 values."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan


@dataclass(frozen=True)
class Effect:
    """A treatment's effect against the control on one metric, with its Welch interval.

    ``effect``, ``lower`` and ``upper`` are in percent of the baseline (the control mean);
    ``difference`` and ``half_width`` are in the metric's units.
    """

    effect: float
    lower: float
    upper: float
    control_mean: float
    treatment_mean: float
    significant: bool
    p_value: float
    dof: float
    difference: float
    half_width: float
    control_n: int
    treatment_n: int
    reason: str | None = None


def welch_dof(control: SampleStats, treatment: SampleStats) -> float:
    """The Welch–Satterthwaite degrees of freedom of the difference of two means."""
    a = control.variance / control.n
    b = treatment.variance / treatment.n
    denominator = a * a / (control.n - 1) + b * b / (treatment.n - 1)
    return (a + b) ** 2 / denominator if denominator > 0 else math.nan


def too_few_users(
    control: SampleStats, treatment: SampleStats, relative: float
) -> tuple[str, float] | None:
    """Why two groups give no interval: ``(reason, effect)``, the effect NaN for an empty group
    and ``relative`` for one of fewer than two users (no variance); None when both have two."""
    for name, group in (("control", control), ("treatment", treatment)):
        if group.n == 0:
            return f"no users in the {name}", math.nan
    for name, group in (("control", control), ("treatment", treatment)):
        if group.n < 2:
            return f"fewer than 2 users in the {name}: no variance", relative
    return None


def welch_effect(
    control: SampleStats,
    treatment: SampleStats,
    alpha: float = 0.05,
    baseline: float | None = None,
) -> Effect:
    """The effect of a treatment and its confidence interval, exactly as the course computes them.

    ``half_width = t.ppf(1 - alpha/2, dof) * sqrt(var_c/n_c + var_t/n_t)`` with the
    Welch–Satterthwaite ``dof``; effect and bounds are divided by the control mean and shown in
    percent; significant when the interval excludes 0. The p-value is the two-sided Welch t-test's.

    Args:
        control: the control's per-user values, summarized.
        treatment: the treatment's.
        alpha: the significance level (the interval covers ``1 - alpha``).
        baseline: the mean the percentages are relative to; defaults to the control mean (CUPED
            passes the unadjusted control mean here).

    Returns:
        The effect; ``reason`` is set (and the undefined fields are NaN, ``significant`` False)
        when a group has fewer than two users, the control mean is 0, or both variances are 0.
    """
    base = control.mean if baseline is None else baseline
    difference = treatment.mean - control.mean
    nan = math.nan

    def result(reason: str | None, **values: float) -> Effect:
        fields = dict(
            effect=nan, lower=nan, upper=nan, significant=False, p_value=nan, dof=nan,
            half_width=nan,
        )
        fields.update(values)
        return Effect(
            control_mean=control.mean if control.n else nan,
            treatment_mean=treatment.mean if treatment.n else nan,
            difference=difference if control.n and treatment.n else nan,
            control_n=control.n,
            treatment_n=treatment.n,
            reason=reason,
            **fields,
        )

    relative = difference / base * 100 if base != 0 else nan
    problem = too_few_users(control, treatment, relative)
    if problem is not None:
        reason, effect = problem
        return result(reason, effect=effect)
    if base == 0:
        return result("the control mean is 0: no relative effect")
    squared_error = control.variance / control.n + treatment.variance / treatment.n
    if squared_error == 0:
        return result(
            "zero variance in both groups: no interval",
            effect=relative, lower=relative, upper=relative,
        )
    dof = welch_dof(control, treatment)
    standard_error = math.sqrt(squared_error)
    half_width = float(_scipy_stats.t.ppf(1 - alpha / 2, dof)) * standard_error
    lower = (difference - half_width) / base * 100
    upper = (difference + half_width) / base * 100
    t_statistic = difference / standard_error
    p_value = float(2 * _scipy_stats.t.sf(abs(t_statistic), dof))
    return result(
        None,
        effect=relative,
        lower=min(lower, upper),
        upper=max(lower, upper),
        # The course's test: the two ends of the interval have the same sign.
        significant=bool((difference - half_width) * (difference + half_width) > 0),
        p_value=p_value,
        dof=dof,
        half_width=half_width,
    )


@dataclass(frozen=True)
class SrmCheck:
    """A sample-ratio-mismatch check: users per treatment against the configured split."""

    treatments: tuple[str, ...]
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    chi2: float
    dof: int
    p_value: float
    threshold: float
    reason: str | None = None

    @property
    def mismatch(self) -> bool:
        """True when the split is implausible under the configured ratios (p below threshold)."""
        return bool(self.p_value < self.threshold)


def srm_check(
    observed: Mapping[str, int],
    weights: Mapping[str, float] | None = None,
    threshold: float = 0.001,
) -> SrmCheck:
    """Pearson's chi-square test of the users per treatment against the expected split.

    Args:
        observed: users per treatment; every configured treatment should appear (0 if empty).
        weights: the configured share of each treatment (any scale); equal shares by default,
            which is what the service's hash assignment gives.
        threshold: p-values below it flag a mismatch (0.001, as is customary: the check runs on
            every analysis, so false alarms must be rare).

    Returns:
        The check; with fewer than two treatments or no users, p is 1 and ``reason`` says why.
    """
    names = tuple(observed) if weights is None else tuple(dict.fromkeys([*weights, *observed]))
    counts = np.array([int(observed.get(name, 0)) for name in names], dtype=np.float64)
    shares = np.array(
        [1.0 if weights is None else float(weights.get(name, 0.0)) for name in names]
    )
    total = counts.sum()
    if len(names) < 2 or total == 0 or shares.sum() <= 0:
        return SrmCheck(
            names, tuple(int(c) for c in counts), tuple(counts), 0.0, 0, 1.0, threshold,
            reason="fewer than two treatments or no users",
        )
    expected = shares / shares.sum() * total
    if np.any((expected == 0) & (counts > 0)):
        chi2, p_value = math.inf, 0.0
    else:
        used = expected > 0
        chi2 = float(np.sum((counts[used] - expected[used]) ** 2 / expected[used]))
        p_value = float(_scipy_stats.chi2.sf(chi2, int(used.sum()) - 1))
    return SrmCheck(
        names, tuple(int(c) for c in counts), tuple(float(e) for e in expected), chi2,
        len(names) - 1, p_value, threshold,
    )


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of p-values (family-wise error control).

    NaN p-values (tests that could not be run) stay NaN and do not count in the family.

    Returns:
        The adjusted p-values, in the input order, capped at 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    if m == 0:
        return adjusted
    order = valid[np.argsort(p[valid], kind="stable")]
    steps = (m - np.arange(m)) * p[order]
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted


@dataclass(frozen=True)
class Cuped:
    """A CUPED fit: ``y - theta * (x - center)`` keeps the mean of ``y`` and removes the part of
    its variance that the pre-period covariate ``x`` explains."""

    theta: float
    center: float
    variance_reduction: float
    reason: str | None = None

    def adjust(self, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The adjusted values of ``y`` given the covariate ``x``."""
        x = np.asarray(x, dtype=np.float64)
        return np.asarray(y, dtype=np.float64) - self.theta * (x - self.center)


def cuped_fit(y: np.ndarray | Sequence[float], x: np.ndarray | Sequence[float]) -> Cuped:
    """Fit CUPED on the pooled users of all treatments (so the adjustment is the same for all).

    Args:
        y: the metric in the experiment period, one value per user.
        x: the covariate (the same metric in the earlier period), aligned with ``y``.

    Returns:
        ``theta = cov(x, y) / var(x)``; theta 0 with a reason when ``x`` has no variance.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if len(y) < 2:
        return Cuped(0.0, float(x.mean()) if len(x) else 0.0, 0.0, "fewer than 2 users")
    center = float(x.mean())
    x_centered = x - center
    var_x = float(np.dot(x_centered, x_centered))
    if var_x == 0:
        return Cuped(0.0, center, 0.0, "the covariate has no variance")
    theta = float(np.dot(x_centered, y - y.mean()) / var_x)
    var_y = float(y.var())
    adjusted_var = float((y - theta * x_centered).var())
    reduction = 1 - adjusted_var / var_y if var_y > 0 else 0.0
    return Cuped(theta, center, reduction)
