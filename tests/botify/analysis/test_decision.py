"""One decision per treatment: every rule of ship, don't ship and inconclusive, by hand."""

from __future__ import annotations

import math

import pytest

from botify.analysis import columns as col
from botify.analysis.decision import DONT_SHIP, INCONCLUSIVE, SHIP, Primary, decide
from botify.analysis.guardrails import FAILS, HOLDS, UNCLEAR, GuardrailCheck, guardrail

LATENCY = guardrail(col.MEAN_REQUEST_LATENCY, 1.0, relative=False)
SESSIONS = guardrail(col.SESSIONS, 2.0, relative=True)


def check(rail, status, difference=0.2, worst=0.5):
    limit = rail.margin if not rail.higher_is_better else -rail.margin * 3.0 / 100
    return GuardrailCheck(rail, status, difference, difference / 3.0 * 100, worst, limit, 0.01,
                          3.0)


def primary(effect, significant, p=1e-12, metric=col.MEAN_TIME_PER_SESSION, higher=True,
            reason=None):
    return Primary(metric, effect, significant, p, higher, reason)


HOLD = [check(LATENCY, HOLDS), check(SESSIONS, HOLDS, 0.03, -0.02)]


@pytest.mark.parametrize(
    ("result", "checks", "decision", "words"),
    [
        (primary(+12.0, True), HOLD, SHIP,
         "better (Holm p < 1e-10); guardrails hold"),
        (primary(+12.0, True), [], SHIP, "no guardrails"),
        (primary(-8.0, True, 0.003), HOLD, DONT_SHIP,
         "worse (Holm p = 0.003)"),
        (primary(+12.0, True), [check(LATENCY, FAILS, 1.6, 1.8), HOLD[1]], DONT_SHIP,
         "mean_request_latency +1.60 ms, beyond +1 ms"),
        (primary(+1.0, False, 0.4), [check(LATENCY, FAILS, 1.6, 1.8)], DONT_SHIP,
         "beyond +1 ms"),
        (primary(+12.0, True), [HOLD[0], check(SESSIONS, UNCLEAR, 0.0, -0.09)], INCONCLUSIVE,
         "better (Holm p < 1e-10), but sessions not shown within -2% (bound -3.0%)"),
        (primary(+1.0, False, 0.4), HOLD, INCONCLUSIVE,
         "not significant (Holm p = 0.400)"),
        (primary(math.nan, False, math.nan, reason="no users in the treatment"), HOLD,
         INCONCLUSIVE, "mean_time_per_session: no users in the treatment"),
        # Lower is better: a significant fall is an improvement.
        (primary(-5.0, True, metric=col.MEAN_REQUEST_LATENCY, higher=False), [], SHIP,
         "better (Holm p < 1e-10)"),
        (primary(+5.0, True, metric=col.MEAN_REQUEST_LATENCY, higher=False), [], DONT_SHIP,
         "worse (Holm p < 1e-10)"),
    ],
    ids=["ship", "ship-no-guardrails", "worse", "guardrail-fails", "fails-not-significant",
         "guardrail-unclear", "not-significant", "degenerate", "lower-better-ship",
         "lower-better-worse"],
)
def test_the_rules(result, checks, decision, words):
    found = decide(result, checks)
    assert found.decision == decision
    assert words in found.reason


def test_a_sample_ratio_mismatch_makes_every_decision_inconclusive():
    found = decide(primary(+12.0, True), HOLD, srm_mismatch=True)
    assert found.decision == INCONCLUSIVE and "sample ratio mismatch" in found.reason


def test_a_worse_primary_names_the_failed_guardrails_too():
    found = decide(primary(-8.0, True), [check(LATENCY, FAILS, 1.6, 1.8)])
    assert found.decision == DONT_SHIP
    assert found.reason == "worse (Holm p < 1e-10); mean_request_latency +1.60 ms, beyond +1 ms"
