"""Ratio metrics: a sum over all sessions divided by the number of sessions, by the delta method.

A per-user mean (``mean_time_per_session``: each user's time per session, averaged over users)
weighs every user equally and answers "does the typical user listen longer per session?". A ratio
of sums (all listening time over all sessions) weighs every session equally and answers "is the
average session longer?": heavy users count as much as the sessions they play. Both are valid;
they differ whenever heavy and light users react differently.

The ratio's users are the randomized units, so its variance is not that of the sessions (which
are correlated within a user): the delta method gives it from per-user sums. With ``x`` the
user's numerator (time), ``y`` the denominator (sessions) and ``R = mean(x) / mean(y)``::

    var(R) ~ (var(x) - 2 R cov(x, y) + R^2 var(y)) / (n mean(y)^2)

which is the squared standard error of the mean of the linearized values
``(x - R y) / mean(y)`` (``ddof=1`` throughout, as gbstats' ``RatioStatistic``); the effect between
treatments is then Welch's on those values (:meth:`RatioStats.linearized`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from botify.analysis import columns as col
from botify.analysis.stats import Effect, SampleStats, welch_effect

RATIO_TIME_PER_SESSION = "ratio_time_per_session"
RATIO_TRACKS_PER_SESSION = "ratio_tracks_per_session"
RATIOS = {
    RATIO_TIME_PER_SESSION: (col.TIME, col.SESSIONS),
    RATIO_TRACKS_PER_SESSION: (col.TRACKS, col.SESSIONS),
}
"""The ratio metrics: name -> (numerator, denominator) columns of the per-user table."""


@dataclass(frozen=True)
class RatioStats:
    """Sufficient statistics of a ratio metric over users: the means and co-moments of the
    per-user numerator ``x`` and denominator ``y``.

    Co-moments (sums of products of deviations) are kept rather than raw sums of squares and
    products, which cancel when the means are large against the spread; the raw sums are
    available as properties. Instances add up like the users they describe (the pairwise update
    of Chan et al.), so the statistics of parts (days, shards) combine into those of the whole.
    """

    n: int = 0
    numerator_mean: float = 0.0
    denominator_mean: float = 0.0
    numerator_m2: float = 0.0
    denominator_m2: float = 0.0
    comoment: float = 0.0

    @classmethod
    def of(
        cls,
        numerator: np.ndarray | Sequence[float],
        denominator: np.ndarray | Sequence[float],
    ) -> RatioStats:
        """The statistics of aligned per-user numerators and denominators (no NaN)."""
        x = np.asarray(numerator, dtype=np.float64)
        y = np.asarray(denominator, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"numerator and denominator differ in shape: {x.shape}, {y.shape}")
        if x.size == 0:
            return cls()
        dx, dy = x - x.mean(), y - y.mean()
        return cls(
            int(x.size), float(x.mean()), float(y.mean()),
            float(dx @ dx), float(dy @ dy), float(dx @ dy),
        )

    @classmethod
    def from_sums(
        cls,
        n: int,
        numerator_sum: float,
        denominator_sum: float,
        numerator_sum_squares: float,
        denominator_sum_squares: float,
        sum_of_products: float,
    ) -> RatioStats:
        """The statistics from ``n``, the sums, the sums of squares and the sum of products."""
        if n == 0:
            return cls()
        mx, my = numerator_sum / n, denominator_sum / n
        return cls(
            int(n), mx, my,
            max(numerator_sum_squares - numerator_sum * mx, 0.0),
            max(denominator_sum_squares - denominator_sum * my, 0.0),
            sum_of_products - numerator_sum * my,
        )

    def __add__(self, other: RatioStats) -> RatioStats:
        if self.n == 0:
            return other
        if other.n == 0:
            return self
        n = self.n + other.n
        dx = other.numerator_mean - self.numerator_mean
        dy = other.denominator_mean - self.denominator_mean
        weight = self.n * other.n / n
        return RatioStats(
            n,
            self.numerator_mean + dx * other.n / n,
            self.denominator_mean + dy * other.n / n,
            self.numerator_m2 + other.numerator_m2 + dx * dx * weight,
            self.denominator_m2 + other.denominator_m2 + dy * dy * weight,
            self.comoment + other.comoment + dx * dy * weight,
        )

    @property
    def numerator(self) -> SampleStats:
        """The numerator's statistics alone."""
        return SampleStats(self.n, self.numerator_mean, self.numerator_m2)

    @property
    def denominator(self) -> SampleStats:
        """The denominator's statistics alone."""
        return SampleStats(self.n, self.denominator_mean, self.denominator_m2)

    @property
    def sum_of_products(self) -> float:
        """The sum over users of numerator times denominator."""
        return self.comoment + self.n * self.numerator_mean * self.denominator_mean

    @property
    def covariance(self) -> float:
        """The sample covariance of numerator and denominator (ddof=1); NaN below 2 users."""
        return self.comoment / (self.n - 1) if self.n > 1 else math.nan

    @property
    def ratio(self) -> float:
        """The sum of the numerators over the sum of the denominators; NaN when the latter is 0."""
        return self.numerator_mean / self.denominator_mean if self.denominator_mean else math.nan

    @property
    def variance(self) -> float:
        """The delta-method variance of the ratio per user: ``n`` times its squared standard error.

        NaN below 2 users or with a zero denominator.
        """
        if self.n < 2 or self.denominator_mean == 0:
            return math.nan
        r = self.ratio
        spread = self.numerator_m2 - 2 * r * self.comoment + r * r * self.denominator_m2
        return max(spread, 0.0) / (self.n - 1) / self.denominator_mean**2

    @property
    def standard_error(self) -> float:
        """The standard error of the ratio."""
        return math.sqrt(self.variance / self.n) if self.n > 1 else math.nan

    def linearized(self) -> SampleStats:
        """The statistics of the linearized values ``(x - R y) / mean(y) + R``: mean ``R`` and the
        delta-method variance, so every function over :class:`SampleStats` (Welch, the sequential
        interval, power) applies to the ratio."""
        if self.n < 2 or self.denominator_mean == 0:
            return SampleStats(self.n, self.ratio, 0.0)
        return SampleStats(self.n, self.ratio, self.variance * (self.n - 1))


def ratio_effect(control: RatioStats, treatment: RatioStats, alpha: float = 0.05) -> Effect:
    """A treatment's effect on a ratio metric against the control, with its Welch-style interval.

    The difference of the two ratios, its squared standard error the sum of the delta-method
    ones, the t quantile with the Welch–Satterthwaite degrees of freedom of the linearized values
    (as gbstats' t-test does on its ratio statistics); relative effect and bounds in percent of the
    control's ratio, like :func:`botify.analysis.stats.welch_effect` (the course's convention: the
    baseline is taken as known).

    Args:
        control: the control's per-user sums, summarized.
        treatment: the treatment's.
        alpha: the significance level.

    Returns:
        The effect (``control_mean`` and ``treatment_mean`` are the ratios); ``reason`` is set
        when a group has no users, fewer than two, a zero denominator, or no variance.
    """
    for name, group in (("control", control), ("treatment", treatment)):
        if group.n > 0 and group.denominator_mean == 0:
            nan = math.nan
            return Effect(
                effect=nan, lower=nan, upper=nan, control_mean=control.ratio,
                treatment_mean=treatment.ratio, significant=False, p_value=nan, dof=nan,
                difference=nan, half_width=nan, control_n=control.n, treatment_n=treatment.n,
                reason=f"the denominator is 0 in the {name}: no ratio",
            )
    return welch_effect(control.linearized(), treatment.linearized(), alpha=alpha)
