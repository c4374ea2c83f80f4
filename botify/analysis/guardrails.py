"""Guardrails: metrics a treatment may not make worse than a margin (non-inferiority tests).

A guardrail ``METRIC:MARGIN`` says how far the metric may move on its harmful side:
``mean_request_latency:+1`` (at most 1 ms more), ``sessions:-2%`` (at most 2% of the control mean
fewer). Each is a one-sided Welch test at alpha of "the treatment is worse by the margin or more";
it holds when that is rejected, fails when the treatment is shown to be worse than the margin, and
is unclear otherwise. Guardrails are not part of the multiple-comparison family of the primary
metric: a decision needs every guardrail to hold, which no correction makes easier to pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from scipy import stats as _scipy_stats

from botify.analysis import columns as col
from botify.analysis import metrics as mt
from botify.analysis import sequential
from botify.analysis.stats import SampleStats, welch_dof
from botify.errors import ConfigError

HOLDS = "holds"
FAILS = "fails"
UNCLEAR = "unclear"
NONE = "none"
"""The guardrail spec that stands for no guardrail at all."""

_SPEC = re.compile(r"(?P<metric>[A-Za-z_][A-Za-z0-9_.]*):(?P<sign>[+-]?)"
                   r"(?P<margin>\d+(?:\.\d*)?|\.\d+)(?P<percent>%?)")


@dataclass(frozen=True)
class Guardrail:
    """A metric and how far it may move on its harmful side.

    Attributes:
        metric: the metric.
        margin: how far (at least 0), in the metric's units, or in percent of the control mean
            when ``relative``.
        relative: the margin is a percentage of the control mean.
        higher_is_better: the metric's direction (:data:`columns.BETTER`); the harmful side is
            down when True.
    """

    metric: str
    margin: float
    relative: bool
    higher_is_better: bool

    @property
    def limit(self) -> str:
        """The margin as written, signed on the harmful side: ``+1 ms``, ``-2%``."""
        sign = "-" if self.higher_is_better else "+"
        if self.relative:
            return f"{sign}{self.margin:g}%"
        unit = mt.UNITS.get(self.metric)
        return f"{sign}{self.margin:g} {unit}" if unit else f"{sign}{self.margin:g}"

    @property
    def spec(self) -> str:
        """The guardrail as ``--guardrail`` takes it: ``mean_request_latency:+1``."""
        sign = "-" if self.higher_is_better else "+"
        return f"{self.metric}:{sign}{self.margin:g}{'%' if self.relative else ''}"


def guardrail(metric: str, margin: float, relative: bool,
              better: Mapping[str, str] = mt.BETTER) -> Guardrail:
    """A guardrail on a known metric (its direction from ``better``)."""
    return Guardrail(metric, float(margin), relative, better[metric] == mt.HIGHER_BETTER)


DEFAULT_GUARDRAILS = (
    guardrail(col.MEAN_REQUEST_LATENCY, 1.0, relative=False),
    guardrail(col.SESSIONS, 2.0, relative=True),
)
"""At most 1 ms more mean request latency, at most 2% fewer sessions per user."""


def parse_guardrail(spec: str, where: str = "--guardrail",
                    better: Mapping[str, str] = mt.BETTER) -> Guardrail:
    """Read ``METRIC:MARGIN``: ``mean_request_latency:+1``, ``sessions:-2%``.

    The margin's sign, when given, must be the metric's harmful side (``+`` for a metric where
    lower is better); without a sign it is taken to be.

    Args:
        spec: the text.
        where: what the message names (the option, or the plan's key path).
        better: the known metrics and their directions.

    Raises:
        ConfigError: the text is not of that form, the metric is unknown, or the sign is the
            metric's good side.
    """
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise ConfigError(f"{where}: {spec!r} is not METRIC:MARGIN (for example "
                          f"mean_request_latency:+1 or sessions:-2%)")
    metric = match["metric"]
    if metric not in better:
        raise ConfigError(f"{where}: unknown metric {metric!r} in {spec!r} (known: "
                          f"{', '.join(better)})")
    result = guardrail(metric, float(match["margin"]), bool(match["percent"]), better)
    harmful = "-" if result.higher_is_better else "+"
    if match["sign"] and match["sign"] != harmful:
        direction = "higher" if result.higher_is_better else "lower"
        move = "fall" if result.higher_is_better else "rise"
        raise ConfigError(f"{where}: {spec!r}: {direction} {metric} is better, so its margin is "
                          f"how far it may {move}: write {result.spec}")
    return result


def parse_guardrails(
    specs: Iterable[str] | None,
    primary: str,
    where: str | Callable[[int], str] = "--guardrail",
    better: Mapping[str, str] = mt.BETTER,
) -> tuple[Guardrail, ...]:
    """The guardrails of a list of specs; None gives the defaults (but not on ``primary``),
    ``["none"]`` none at all.

    Args:
        specs: ``METRIC:MARGIN`` texts (:func:`parse_guardrail`).
        primary: the primary metric, which cannot be a guardrail.
        where: what messages name, or a function of the spec's index giving it.
        better: the known metrics and their directions.

    Raises:
        ConfigError: a spec is wrong, names the primary metric, or a metric twice.
    """
    if specs is None:
        return tuple(g for g in DEFAULT_GUARDRAILS if g.metric != primary)
    specs = list(specs)
    if specs == [NONE]:
        return ()
    found: dict[str, Guardrail] = {}
    for i, spec in enumerate(specs):
        at = where(i) if callable(where) else where
        rail = parse_guardrail(spec, at, better)
        if rail.metric == primary:
            raise ConfigError(f"{at}: {rail.metric} is the primary metric; a guardrail must be "
                              "another metric")
        if rail.metric in found:
            raise ConfigError(f"{at}: a second guardrail on {rail.metric}")
        found[rail.metric] = rail
    return tuple(found.values())


@dataclass(frozen=True)
class GuardrailCheck:
    """The non-inferiority test of one guardrail for one treatment.

    Differences are treatment minus control in the metric's units; ``worst`` is the one-sided
    ``1 - alpha`` bound of the difference on the harmful side, ``limit`` the margin in units with
    its sign (the difference must stay on the good side of it); ``effect`` is the difference in
    percent of ``baseline``, the control mean.
    """

    guardrail: Guardrail
    status: str
    difference: float
    effect: float
    worst: float
    limit: float
    p_value: float
    baseline: float
    reason: str | None = None

    @property
    def worst_effect(self) -> float:
        """``worst`` in percent of the control mean."""
        return self.worst / self.baseline * 100 if self.baseline else math.nan


def non_inferiority(
    control: SampleStats,
    treatment: SampleStats,
    rail: Guardrail,
    alpha: float = 0.05,
    baseline: float | None = None,
    always_valid: bool = False,
) -> GuardrailCheck:
    """Test that the treatment is not worse than the control by the guardrail's margin or more.

    With ``harm`` the difference on the harmful side and ``M`` the margin in units, the null
    hypothesis ``harm >= M`` is rejected (the guardrail holds) when the one-sided Welch bound
    ``harm + t(1 - alpha, dof) * se`` is below ``M``; the guardrail fails when ``harm - t * se``
    is above ``M`` (worse than the margin, at the same level); otherwise it is unclear. With
    ``always_valid``, ``t * se`` is the half-width of the confidence sequence at alpha
    (:func:`sequential.half_width`; two-sided, so conservative for one side) and the check stays
    valid however often it is looked at.

    Args:
        control: the control's per-user values, summarized.
        treatment: the treatment's.
        rail: the guardrail.
        alpha: the level of the one-sided test.
        baseline: the control mean that relative margins and ``effect`` refer to (default the
            control's mean; CUPED passes the unadjusted one).
        always_valid: bound by the confidence sequence instead of the fixed-horizon interval.

    Returns:
        The check; ``reason`` is set and the status is unclear when a group has fewer than two
        users or a relative margin meets a zero control mean.
    """
    base = control.mean if baseline is None else baseline
    side = -1.0 if rail.higher_is_better else 1.0
    nan = math.nan
    difference = treatment.mean - control.mean if control.n and treatment.n else nan
    effect = difference / base * 100 if base and not math.isnan(difference) else nan

    def result(status: str, worst: float = nan, limit: float = nan, p: float = nan,
               reason: str | None = None) -> GuardrailCheck:
        return GuardrailCheck(rail, status, difference, effect, worst, limit, p, base, reason)

    for name, group in (("control", control), ("treatment", treatment)):
        if group.n < 2:
            return result(UNCLEAR, reason=f"fewer than 2 users in the {name}")
    if rail.relative and base == 0:
        return result(UNCLEAR, reason="the control mean is 0: no relative margin")
    margin = rail.margin * abs(base) / 100 if rail.relative else rail.margin
    harm = side * difference
    squared_error = control.variance / control.n + treatment.variance / treatment.n
    if squared_error == 0:  # both groups constant: the difference is exact
        status = HOLDS if harm < margin else FAILS if harm > margin else UNCLEAR
        return result(status, difference, side * margin, 0.0 if status == HOLDS else 1.0,
                      reason="zero variance in both groups: the difference is exact")
    standard_error = math.sqrt(squared_error)
    if always_valid:
        n_total = control.n + treatment.n
        width = sequential.half_width(squared_error, n_total, alpha)
        p_value = (sequential.p_value(harm - margin, squared_error, n_total, alpha)
                   if harm < margin else 1.0)
    else:
        dof = welch_dof(control, treatment)
        width = float(_scipy_stats.t.ppf(1 - alpha, dof)) * standard_error
        p_value = float(_scipy_stats.t.cdf((harm - margin) / standard_error, dof))
    worst, best = harm + width, harm - width
    status = HOLDS if worst < margin else FAILS if best > margin else UNCLEAR
    return result(status, side * worst, side * margin, p_value)
