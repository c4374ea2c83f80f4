"""A/A experiments looked at every day: what peeking does to the false-positive rate.

Each simulated experiment has two arms with no difference; after every "day" the users so far
are analyzed, and the experiment counts as a false positive if *any* look is significant (an
experimenter who stops at the first significant look). The fixed-horizon Welch interval
(:func:`botify.analysis.stats.welch_effect`) holds its level only at one planned look, so peeking
inflates its rate far above alpha; the confidence sequence
(:func:`botify.analysis.sequential.sequential_effect`) covers at all looks at once, so its rate
stays below alpha.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

from botify.analysis.sequential import TUNING, sequential_effect
from botify.analysis.stats import SampleStats, welch_effect
from botify.errors import ConfigError


@dataclass(frozen=True)
class Peeking:
    """The outcome of repeated A/A experiments with a look after every day.

    Attributes:
        experiments: simulated experiments.
        looks: looks at each (days).
        users_per_look: users added to each arm between two looks.
        alpha: the level of every interval.
        tuning: the sequential interval's tuning constant.
        fixed: per look, experiments whose Welch interval excluded 0 at that look or earlier.
        sequential: the same for the sequential interval.
        fixed_last: experiments whose Welch interval excluded 0 at the last look (no peeking).
    """

    experiments: int
    looks: int
    users_per_look: int
    alpha: float
    tuning: float
    fixed: tuple[int, ...]
    sequential: tuple[int, ...]
    fixed_last: int

    @property
    def fixed_rate(self) -> float:
        """The share of experiments the fixed-horizon interval called significant at some look."""
        return self.fixed[-1] / self.experiments

    @property
    def sequential_rate(self) -> float:
        """The share of experiments the sequential interval called significant at some look."""
        return self.sequential[-1] / self.experiments

    def interval(self, count: int, level: float = 0.95) -> tuple[float, float]:
        """The Clopper–Pearson interval of the rate ``count / experiments``."""
        k, n = count, self.experiments
        tail = (1 - level) / 2
        low = float(_scipy_stats.beta.ppf(tail, k, n - k + 1)) if k > 0 else 0.0
        high = float(_scipy_stats.beta.ppf(1 - tail, k + 1, n - k)) if k < n else 1.0
        return low, high


def peeking_aa(
    experiments: int = 2000,
    looks: int = 10,
    users_per_look: int = 200,
    alpha: float = 0.05,
    tuning: float = TUNING,
    values: np.ndarray | None = None,
    sigma: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> Peeking:
    """Simulate A/A experiments and count false positives over all looks.

    Args:
        experiments: experiments to simulate.
        looks: looks at each, one per day, on the cumulative users.
        users_per_look: users each arm gains per day.
        alpha: the level of both intervals.
        tuning: the sequential interval's tuning constant.
        values: per-user values to resample (with replacement) for both arms, e.g. a metric
            of real users; None draws lognormal values instead (skewed, as time metrics are).
        sigma: the lognormal's shape when ``values`` is None.
        rng: a Generator or a seed.

    Returns:
        The cumulative false positives per look of both intervals.

    Raises:
        ConfigError: fewer than 1 experiment or look, fewer than 2 users per look, or fewer than
            2 distinct values to resample.
    """
    if experiments < 1 or looks < 1 or users_per_look < 2:
        raise ConfigError("peeking needs at least 1 experiment, 1 look and 2 users per look")
    pool = None if values is None else np.asarray(values, dtype=np.float64)
    if pool is not None and np.unique(pool).size < 2:
        raise ConfigError("peeking needs at least 2 distinct values to resample")
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    fixed = np.zeros(looks, dtype=np.int64)
    sequential = np.zeros(looks, dtype=np.int64)
    fixed_last = 0
    shape = (2, looks, users_per_look)
    for _ in range(experiments):
        if pool is None:
            draws = generator.lognormal(0.0, sigma, size=shape)
        else:
            draws = pool[generator.integers(0, pool.size, size=shape)]
        groups = [SampleStats(), SampleStats()]
        fixed_hit = sequential_hit = looks
        for day in range(looks):
            groups = [groups[arm] + SampleStats.of(draws[arm, day]) for arm in (0, 1)]
            if fixed_hit == looks or day == looks - 1:
                welch = welch_effect(groups[0], groups[1], alpha=alpha).significant
                if welch and fixed_hit == looks:
                    fixed_hit = day
                fixed_last += int(welch and day == looks - 1)
            if sequential_hit == looks and sequential_effect(
                groups[0], groups[1], alpha=alpha, tuning=tuning
            ).significant:
                sequential_hit = day
        fixed[fixed_hit:] += 1  # empty when no look was significant
        sequential[sequential_hit:] += 1
    return Peeking(
        experiments, looks, users_per_look, alpha, tuning,
        tuple(int(c) for c in fixed), tuple(int(c) for c in sequential), fixed_last,
    )
