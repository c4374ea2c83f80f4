"""Sample sizes: the users (and sessions) an experiment needs to detect a given effect.

For a two-sided z test of the difference of two means with equal arms, detecting a true
difference ``mde`` with probability ``power`` at level ``alpha`` needs, per arm::

    n = 2 variance (z(1 - alpha / (2 m)) + z(power))^2 / mde^2

where ``m`` is the number of treatments compared with the control. Dividing alpha by ``m``
(Bonferroni) is safe for Holm's procedure, which the analysis applies: Holm rejects every
hypothesis Bonferroni rejects (its first step is Bonferroni's, its later steps are more lenient),
so each comparison has at least the planned power under Holm too. The far tail (a significant
result of the wrong sign) is ignored, as is customary; it changes ``n`` by far less than a user.

With a pre-period covariate, CUPED leaves ``(1 - rho^2)`` of the variance (``rho`` the correlation
of the metric with its earlier value), and the users needed shrink in proportion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats

from botify.analysis import columns as col
from botify.analysis.ratio import RATIOS, RatioStats
from botify.analysis.sessions import sessionize_events, user_metrics
from botify.analysis.stats import SampleStats, cuped_fit
from botify.errors import ConfigError, DataError


def _check(mde: float, alpha: float, power: float, treatments: int) -> None:
    if not (mde > 0 and math.isfinite(mde)):
        raise ConfigError(f"the minimum detectable effect must be positive, got {mde}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 < power < 1:
        raise ConfigError(f"power must be in (0, 1), got {power}")
    if isinstance(treatments, bool) or not isinstance(treatments, int) or treatments < 1:
        raise ConfigError(f"treatments must be a positive integer, got {treatments!r}")


def users_per_arm(
    variance: float, mde: float, alpha: float = 0.05, power: float = 0.8, treatments: int = 1
) -> float:
    """The users per arm before rounding up (see :func:`required_users`)."""
    _check(mde, alpha, power, treatments)
    if not (variance >= 0 and math.isfinite(variance)):
        raise DataError(f"the metric's variance must be finite and >= 0, got {variance}")
    z = _scipy_stats.norm.ppf(1 - alpha / (2 * treatments)) + _scipy_stats.norm.ppf(power)
    return 2 * variance * z * z / (mde * mde)


def required_users(
    variance: float, mde: float, alpha: float = 0.05, power: float = 0.8, treatments: int = 1
) -> int:
    """The users each arm (the control and every treatment) needs.

    Args:
        variance: the per-user variance of the metric (ddof=1; CUPED-reduced if CUPED will be
            used; for a ratio metric its delta-method variance per user).
        mde: the minimum detectable effect, an absolute difference in the metric's units (for a
            relative one, multiply by the control mean).
        alpha: the family-wise significance level, two-sided.
        power: the probability of detecting a true effect of size ``mde``.
        treatments: the treatments compared with the control; alpha is split among them
            (Bonferroni, which is safe for Holm).

    Returns:
        The users per arm, rounded up, at least 2 (Welch's interval needs two per group).

    Raises:
        ConfigError: a non-positive ``mde``, alpha or power outside (0, 1), treatments < 1.
        DataError: a negative, NaN or infinite variance (a metric measured on fewer than 2 users).
    """
    return max(math.ceil(users_per_arm(variance, mde, alpha, power, treatments)), 2)


def parse_mde(text: str, name: str = "--mde") -> tuple[float, bool]:
    """``"5%"`` -> ``(0.05, True)`` (relative), ``"0.1"`` -> ``(0.1, False)`` (absolute).

    Raises:
        ConfigError: not a positive number, with or without a trailing ``%`` (the message names
            the option or key ``name``).
    """
    raw = text.strip()
    relative = raw.endswith("%")
    try:
        value = float(raw[:-1] if relative else raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be a relative effect such as 5% or an absolute one such as 0.1, "
            f"got {text!r}"
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name} must be positive, got {text!r}")
    return (value / 100, True) if relative else (value, False)


@dataclass(frozen=True)
class PowerPlan:
    """The sample size of an experiment on one metric, from a log's users.

    Attributes:
        users: users measured in the log.
        mean: the metric's mean over them.
        variance: its per-user variance (ddof=1), before CUPED.
        variance_reduction: the share of the variance CUPED removes (``rho^2``; 0 without it).
        mde: the minimum detectable effect, absolute.
        relative_mde: the same relative to the mean (NaN when the mean is 0).
        alpha: the family-wise level; ``alpha / treatments`` per comparison.
        power: the power of each comparison.
        treatments: the treatments compared with the control.
        users_per_arm: users each arm needs.
        sessions_per_user: sessions per user in the log.
    """

    users: int
    mean: float
    variance: float
    variance_reduction: float
    mde: float
    relative_mde: float
    alpha: float
    power: float
    treatments: int
    users_per_arm: int
    sessions_per_user: float

    @property
    def arms(self) -> int:
        """The control and every treatment."""
        return self.treatments + 1

    @property
    def total_users(self) -> int:
        """Users over all arms."""
        return self.users_per_arm * self.arms

    @property
    def sessions_per_arm(self) -> int:
        """Sessions each arm needs, at the log's sessions per user."""
        return math.ceil(self.users_per_arm * self.sessions_per_user)

    @property
    def total_sessions(self) -> int:
        """Sessions over all arms."""
        return self.sessions_per_arm * self.arms


def plan(
    mean: float,
    variance: float,
    users: int,
    sessions_per_user: float,
    mde: float,
    relative: bool,
    alpha: float = 0.05,
    power: float = 0.8,
    treatments: int = 1,
    variance_reduction: float = 0.0,
) -> PowerPlan:
    """The sample size from a metric's observed mean and variance.

    Args:
        mean: the metric's mean (the baseline of a relative ``mde``).
        variance: its per-user variance, before CUPED.
        users: users it was measured on.
        sessions_per_user: their mean sessions.
        mde: the minimum detectable effect: a fraction of ``mean`` when ``relative``, else
            absolute.
        relative: whether ``mde`` is relative.
        alpha: the family-wise level.
        power: the power of each comparison.
        treatments: the treatments compared with the control.
        variance_reduction: ``rho^2`` of CUPED (0 without).

    Raises:
        ConfigError: bad ``mde``, alpha, power or treatments; a relative ``mde`` on a zero mean.
        DataError: fewer than 2 users (no variance).
    """
    if users < 2 or not math.isfinite(variance):
        raise DataError(f"the metric needs at least 2 users with a value, got {users}")
    if relative and mean == 0:
        raise ConfigError("a relative --mde needs a metric whose mean is not 0: give it absolute")
    absolute = mde * abs(mean) if relative else mde
    reduced = variance * (1 - min(max(variance_reduction, 0.0), 1.0))
    return PowerPlan(
        users=users,
        mean=mean,
        variance=variance,
        variance_reduction=variance_reduction,
        mde=absolute,
        relative_mde=absolute / abs(mean) if mean != 0 else math.nan,
        alpha=alpha,
        power=power,
        treatments=treatments,
        users_per_arm=required_users(reduced, absolute, alpha, power, treatments),
        sessions_per_user=float(sessions_per_user),
    )


def describe(plan: PowerPlan, metric: str) -> str:
    """The plan as the ``botify power`` command prints it."""
    per = plan.alpha / plan.treatments
    lines = [
        f"{metric}: mean {plan.mean:.4g}, sd {np.sqrt(plan.variance):.4g} over {plan.users:,} "
        f"users, {plan.sessions_per_user:.2f} sessions per user",
    ]
    if plan.variance_reduction:
        lines.append(f"CUPED with the earlier period: variance -{plan.variance_reduction:.1%} "
                     f"(sd {np.sqrt(plan.variance * (1 - plan.variance_reduction)):.4g})")
    lines += [
        f"minimum detectable effect {plan.mde:.4g} ({plan.relative_mde:.2%} of the mean), "
        f"power {plan.power:.0%}, two-sided alpha {plan.alpha:g} over {plan.treatments} "
        f"treatment(s) against the control (Bonferroni: {per:.4g} each, safe for Holm)",
        f"users per arm: {plan.users_per_arm:,}; all {plan.arms} arms: {plan.total_users:,}",
        f"sessions per arm: {plan.sessions_per_arm:,}; all arms: {plan.total_sessions:,}",
    ]
    return "\n".join(lines)


def plan_from_events(
    events: pd.DataFrame,
    metric: str,
    mde: float,
    relative: bool,
    alpha: float = 0.05,
    power: float = 0.8,
    treatments: int = 1,
    pre_events: pd.DataFrame | None = None,
) -> PowerPlan:
    """The sample size of an experiment on ``metric``, its variance measured in a log.

    Args:
        events: the log whose users stand for the experiment's (all of them, pooled).
        metric: a per-user metric (:data:`columns.METRICS`) or a ratio metric
            (:data:`ratio.RATIOS`, its variance by the delta method).
        mde: the minimum detectable effect (see :func:`plan`).
        relative: whether ``mde`` is relative to the metric's mean.
        alpha: the family-wise level.
        power: the power of each comparison.
        treatments: the treatments compared with the control.
        pre_events: an earlier period's log: the variance is reduced as CUPED will reduce it
            (per-user metrics only), users absent from it unadjusted, as the analysis does.

    Raises:
        ConfigError: an unknown metric, CUPED asked for a ratio metric, bad parameters.
        DataError: fewer than 2 users with a complete session.
    """
    if metric not in col.METRICS and metric not in RATIOS:
        known = ", ".join([*col.METRICS, *RATIOS])
        raise ConfigError(f"unknown metric {metric!r}: one of {known}")
    if pre_events is not None and metric in RATIOS:
        raise ConfigError(f"CUPED (--pre) applies to the per-user metrics, not to {metric!r}")
    users = user_metrics(sessionize_events(events).table)
    if len(users) < 2:
        raise DataError(f"too few users with a complete session to measure a variance "
                        f"({len(users)})")
    if metric in RATIOS:
        numerator, denominator = RATIOS[metric]
        stats = RatioStats.of(users[numerator], users[denominator])
        mean, variance = stats.ratio, stats.variance
    else:
        sample = SampleStats.of(users[metric].to_numpy(dtype=np.float64))
        mean, variance = sample.mean, sample.variance
    reduction = 0.0
    if pre_events is not None:
        reduction = _cuped_reduction(users, pre_events, metric)
    return plan(
        mean, variance, len(users), float(users[col.SESSIONS].mean()), mde, relative,
        alpha=alpha, power=power, treatments=treatments, variance_reduction=reduction,
    )


def _cuped_reduction(users: pd.DataFrame, pre_events: pd.DataFrame, metric: str) -> float:
    """The share of the variance CUPED removes, covariates aligned as ``botify analyze --pre``
    aligns them: each user's same metric earlier, its mean for users absent then."""
    pre = user_metrics(sessionize_events(pre_events).table).groupby(col.USER)[metric].mean()
    x = pre.reindex(users[col.USER].to_numpy()).to_numpy(dtype=np.float64)
    present = ~np.isnan(x)
    if present.sum() < 2:
        raise DataError("fewer than 2 users of the logs are in the earlier period: no CUPED")
    x = np.where(present, x, x[present].mean())
    return cuped_fit(users[metric].to_numpy(dtype=np.float64), x).variance_reduction
