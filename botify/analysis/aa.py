"""A/A tests on resampled logs: how often the analysis calls a difference where there is none.

Users are re-split at random into two groups many times; each split is analyzed with the very
Welch interval of the report (:func:`botify.analysis.stats.welch_effect`). At level alpha the
share of significant results must be close to alpha, or the method is miscalibrated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy_stats

from botify.analysis.stats import SampleStats, welch_effect

BAND = (0.03, 0.07)
"""The false-positive rates (at alpha 0.05) that pass the check."""

_BATCH = 64


@dataclass(frozen=True)
class AATest:
    """The outcome of an A/A test.

    Attributes:
        repetitions: random re-splits analyzed.
        alpha: the significance level of each test.
        users: users re-split each time.
        false_positives: per metric, the re-splits found significant.
        undefined: per metric, re-splits whose test could not be run (a group too small, ...).
        band: the pass band of the pooled false-positive rate.
    """

    repetitions: int
    alpha: float
    users: int
    false_positives: dict[str, int]
    undefined: dict[str, int]
    band: tuple[float, float] = BAND

    def rate(self, metric: str | None = None) -> float:
        """The false-positive rate of one metric, or pooled over all metrics when None."""
        if metric is not None:
            return self.false_positives[metric] / self.repetitions
        return sum(self.false_positives.values()) / (self.repetitions * len(self.false_positives))

    def interval(self, metric: str | None = None, level: float = 0.95) -> tuple[float, float]:
        """The Clopper–Pearson interval of a false-positive rate (pooled when ``metric`` is None;
        the pooled one treats the metrics' tests as independent, which they are not quite)."""
        if metric is not None:
            k, n = self.false_positives[metric], self.repetitions
        else:
            k, n = sum(self.false_positives.values()), self.repetitions * len(self.false_positives)
        tail = (1 - level) / 2
        low = float(_scipy_stats.beta.ppf(tail, k, n - k + 1)) if k > 0 else 0.0
        high = float(_scipy_stats.beta.ppf(1 - tail, k + 1, n - k)) if k < n else 1.0
        return low, high

    @property
    def passed(self) -> bool:
        """True when the pooled false-positive rate lies within the band."""
        return self.band[0] <= self.rate() <= self.band[1]


def aa_test(
    values: Mapping[str, np.ndarray],
    repetitions: int = 1000,
    alpha: float = 0.05,
    share: float = 0.5,
    rng: np.random.Generator | int | None = None,
) -> AATest:
    """Re-split users at random ``repetitions`` times and count significant differences.

    Each user independently goes to group B with probability ``share`` (as hash assignment does).
    Group sums come from one matrix product per batch of re-splits; the values are centered first
    so that the sums of squares do not cancel.

    Args:
        values: per metric, one value per user (all arrays aligned, no NaN).
        repetitions: the number of re-splits (at least 200 for a meaningful rate).
        alpha: the level of each test.
        share: the probability of a user landing in the second group.
        rng: a Generator or a seed.

    Returns:
        The counts of false positives per metric.
    """
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    metrics = list(values)
    matrix = np.column_stack([np.asarray(values[m], dtype=np.float64) for m in metrics])
    matrix = matrix - matrix.mean(axis=0)
    squares = matrix * matrix
    n_users = matrix.shape[0]
    total, total_squares = matrix.sum(axis=0), squares.sum(axis=0)
    positives = dict.fromkeys(metrics, 0)
    undefined = dict.fromkeys(metrics, 0)
    done = 0
    while done < repetitions:
        batch = min(_BATCH, repetitions - done)
        assignment = (generator.random((batch, n_users)) < share).astype(np.float64)
        n_b = assignment.sum(axis=1).astype(np.int64)
        sums_b, squares_b = assignment @ matrix, assignment @ squares
        for r in range(batch):
            for j, metric in enumerate(metrics):
                a = SampleStats.from_sums(
                    n_users - n_b[r], total[j] - sums_b[r, j], total_squares[j] - squares_b[r, j]
                )
                b = SampleStats.from_sums(n_b[r], sums_b[r, j], squares_b[r, j])
                # Relative to the uncentered mean is irrelevant for significance: use the shift.
                result = welch_effect(a, b, alpha=alpha, baseline=1.0)
                if result.reason is not None:
                    undefined[metric] += 1
                elif result.significant:
                    positives[metric] += 1
        done += batch
    return AATest(repetitions, alpha, n_users, positives, undefined)
