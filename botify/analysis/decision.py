"""One decision per treatment from its primary metric and its guardrails.

- **ship**: the primary metric is significantly better (after Holm across the treatments) and
  every guardrail holds;
- **don't ship**: the primary metric is significantly worse, or a guardrail fails (the treatment
  is shown to be worse than its margin);
- **inconclusive**: anything else (not significant, a guardrail not shown to hold, too little
  data, or a sample-ratio mismatch, under which no effect can be trusted).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from botify.analysis import format as fmt
from botify.analysis import metrics as mt
from botify.analysis.guardrails import FAILS, HOLDS, GuardrailCheck

SHIP = "ship"
DONT_SHIP = "don't ship"
INCONCLUSIVE = "inconclusive"
DECISIONS = (SHIP, DONT_SHIP, INCONCLUSIVE)


@dataclass(frozen=True)
class Primary:
    """What a decision reads of the primary metric's comparison.

    Attributes:
        metric: its name.
        effect: the effect, % of the control mean.
        significant: the interval the decision uses excludes 0 (after Holm).
        p_value: the p-value shown with it (Holm-adjusted).
        higher_is_better: the metric's direction.
        reason: why the comparison is incomplete, if it is.
        label: what the p-value is, in the reason (``Holm p``, ``always-valid Holm p``).
    """

    metric: str
    effect: float
    significant: bool
    p_value: float
    higher_is_better: bool
    reason: str | None = None
    label: str = "Holm p"


@dataclass(frozen=True)
class Decision:
    """A treatment's decision and its reason in a few words."""

    decision: str
    reason: str


def check_text(check: GuardrailCheck) -> str:
    """One guardrail's check in words: ``sessions -0.8% within -2% (bound -1.5%)``."""
    rail = check.guardrail
    if rail.relative:
        value, worst = fmt.percent(check.effect), fmt.percent(check.worst_effect)
    else:
        unit = mt.UNITS.get(rail.metric, "")
        value, worst = fmt.signed(check.difference, 2, unit), fmt.signed(check.worst, 2, unit)
    if check.status == FAILS:
        return f"{rail.metric} {value}, beyond {rail.limit}"
    if check.status == HOLDS:
        return f"{rail.metric} {value} within {rail.limit} (bound {worst})"
    if math.isnan(check.worst):
        return f"{rail.metric} unclear: {check.reason}"
    return f"{rail.metric} not shown within {rail.limit} (bound {worst})"


def decide(primary: Primary, checks: Sequence[GuardrailCheck], srm_mismatch: bool = False
           ) -> Decision:
    """The decision on one treatment; its reason speaks of the primary metric without naming it
    (``worse (Holm p = 0.003)``), and names the guardrails.

    Args:
        primary: the primary metric's comparison.
        checks: its guardrails' checks.
        srm_mismatch: the sample-ratio check failed for the experiment (or the segment).

    Returns:
        The decision (:data:`SHIP`, :data:`DONT_SHIP` or :data:`INCONCLUSIVE`) with its reason.
    """
    if srm_mismatch:
        return Decision(INCONCLUSIVE, "sample ratio mismatch: the assignment or the logging is "
                                      "broken, no effect can be trusted")
    failed = [c for c in checks if c.status == FAILS]
    unclear = [c for c in checks if c.status not in (HOLDS, FAILS)]
    holm = f"{primary.label} {_p(primary.p_value)}"
    better = primary.significant and (primary.effect > 0) == primary.higher_is_better
    worse = primary.significant and not better
    if worse:
        extra = "".join(f"; {check_text(c)}" for c in failed)
        return Decision(DONT_SHIP, f"worse ({holm}){extra}")
    if failed:
        return Decision(DONT_SHIP, "; ".join(check_text(c) for c in failed))
    if primary.reason:
        return Decision(INCONCLUSIVE, f"{primary.metric}: {primary.reason}")
    if better and not unclear:
        rails = "guardrails hold" if checks else "no guardrails"
        return Decision(SHIP, f"better ({holm}); {rails}")
    if better:
        return Decision(INCONCLUSIVE, f"better ({holm}), but "
                        + "; ".join(check_text(c) for c in unclear))
    return Decision(INCONCLUSIVE, f"not significant ({holm})")


def _p(p: float) -> str:
    text = fmt.p_value(p)
    return text if text.startswith("<") or text == "n/a" else f"= {text}"
