"""The report a person reads first: the summary table, directions, guardrails and decisions."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy import stats as scipy_stats

from botify.analysis import columns as col
from botify.analysis.analyze import analyze
from botify.analysis.decision import DECISIONS
from botify.analysis.format import interval, p_value, percent
from botify.analysis.report import render_html, render_markdown, write_report
from botify.analysis.synthetic import generate_events
from botify.cli import main

RECOMMENDERS = ("random", "sticky", "i2i", "hybrid")


@pytest.fixture(scope="module")
def analysis():
    events = generate_events(2500, recommenders=RECOMMENDERS, seed=9, experiment="AB",
                             time_effects={"T1": 1.4, "T2": 0.97})
    return analyze(events, "AB", configured=list(RECOMMENDERS))


def test_numbers_read_as_a_person_reads_them():
    assert p_value(3e-300) == "< 1e-10" and p_value(0.0) == "< 1e-10"
    assert p_value(2.3e-7) == "2.3e-07" and p_value(0.0412) == "0.041"
    assert p_value(float("nan")) == "n/a"
    assert percent(12.345) == "+12.3%" and percent(-0.04) == "0.0%"
    assert interval(-1.25, 3.0) == "[-1.2, +3.0]"


def test_markdown_opens_with_the_summary(analysis):
    page = render_markdown(analysis, ["results.png"])
    head, _, rest = page.partition("## Effects")
    assert rest, "the effects plot follows the summary"
    lines = [line for line in head.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| treatment | recommender | effect | 95% CI | Holm p | "
                               "mean_request_latency +1 ms | sessions -2% | decision | reason |")
    rows = lines[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| T1", "| T2", "| T3"]
    decisions = analysis.decisions.set_index(col.TREATMENT)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        expected = decisions.loc[cells[0]]
        assert cells[1] == expected[col.RECOMMENDER]
        assert cells[2] == percent(expected[col.EFFECT])
        assert cells[3] == interval(expected[col.LOWER], expected[col.UPPER])
        assert cells[-2] == expected[col.DECISION] and cells[-2] in DECISIONS
        assert cells[-1] == expected[col.REASON]
    assert rest.index("## All metrics") < rest.index("## Guardrails") < rest.index("## Treatments")
    assert "< 1e-10" in page  # T1's +40% on 2,500 users


def test_colors_follow_each_metric_direction(analysis):
    page = render_html(analysis, [])
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    rows = [r for r in rows if "<td>↓</td>" in r or "<td>↑</td>" in r]  # the effects table's
    latency = [r for r in rows if "mean_<wbr>request_<wbr>latency</td>" in r]
    time = [r for r in rows if ">mean_<wbr>time_<wbr>per_<wbr>session</td>" in r]
    assert len(latency) == len(time) == 3
    effects = analysis.effects.set_index([col.TREATMENT, col.METRIC])
    for row in latency:  # the synthetic arms are slower: an increase, a regression
        treatment = re.search(r"<td>(T\d)</td>", row).group(1)
        assert effects.loc[(treatment, col.MEAN_REQUEST_LATENCY), col.EFFECT] > 0
        assert '<td style="color:red;">+' in row and "color:green;" not in row
    t1 = next(r for r in time if "<td>T1</td>" in r)
    assert '<td style="color:green;">+' in t1  # more time per session: an improvement


def test_summary_json_carries_decisions_and_guardrails(analysis, tmp_path):
    write_report(analysis, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["primary"] == col.MEAN_TIME_PER_SESSION
    assert [g["spec"] for g in summary["guardrails"]] == ["mean_request_latency:+1",
                                                          "sessions:-2%"]
    for _, row in analysis.decisions.iterrows():
        found = summary["decisions"][row[col.TREATMENT]]
        assert found["decision"] == row[col.DECISION] and found["reason"] == row[col.REASON]
        assert set(found["guardrails"]) == {col.MEAN_REQUEST_LATENCY, col.SESSIONS}
        assert found["guardrails"][col.SESSIONS]["status"] in ("holds", "fails", "unclear")


def test_guardrails_are_tested_at_alpha_without_holm(analysis):
    """Three treatments, yet each guardrail's p-value is the single one-sided Welch test's."""
    users = analysis.users
    control = users.loc[users[col.TREATMENT] == "C", col.SESSIONS].to_numpy(float)
    margin = 0.02 * control.mean()
    for _, check in analysis.checks[analysis.checks[col.METRIC] == col.SESSIONS].iterrows():
        treated = users.loc[users[col.TREATMENT] == check[col.TREATMENT], col.SESSIONS]
        expected = scipy_stats.ttest_ind(treated.to_numpy(float) + margin, control,
                                         equal_var=False, alternative="greater").pvalue
        assert round(check[col.P_VALUE], 9) == round(float(expected), 9)


def test_the_decision_uses_holm_on_the_primary_metric():
    """T2's raw p-value is below alpha, its Holm-adjusted one is not: inconclusive."""
    for seed in range(40):
        events = generate_events(800, recommenders=RECOMMENDERS, seed=seed,
                                 time_effects={"T2": 1.12})
        result = analyze(events, "AB", guardrails=())
        primary = result.effects[result.effects[col.METRIC] == col.MEAN_TIME_PER_SESSION]
        t2 = primary.set_index(col.TREATMENT).loc["T2"]
        if t2[col.P_VALUE] < 0.05 <= t2[col.P_VALUE_HOLM] and t2[col.EFFECT] > 0:
            decision = result.decisions.set_index(col.TREATMENT).loc["T2"]
            assert decision[col.DECISION] == "inconclusive"
            assert "not significant (Holm p" in decision[col.REASON]
            return
    pytest.fail("no seed gave a raw-only significant T2")


def test_cli_primary_and_guardrail_options(ab_logs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", str(ab_logs["post"]), "--experiment", "AB", "--primary", "sessions",
                 "--guardrail", "mean_time_per_session:-5%", "--guardrail",
                 "mean_request_latency:+0.5", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["primary"] == col.SESSIONS
    assert [g["margin"] for g in summary["guardrails"]] == ["-5%", "+0.5 ms"]
    assert "Decisions on sessions:" in capsys.readouterr().out
    assert main(["analyze", str(ab_logs["post"]), "--experiment", "AB", "--guardrail", "none",
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["guardrails"] == [] and summary["decisions"]["T1"]["guardrails"] == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--guardrail", "sessions:+2%"], "write sessions:-2%"),
        (["--guardrail", "sessions"], "'sessions' is not METRIC:MARGIN"),
        (["--guardrail", "speed:+1"], "unknown metric 'speed'"),
        (["--primary", "speed"], "unknown --primary metric 'speed'"),
        (["--guardrail", "mean_time_per_session:-1%"], "is the primary metric"),
        (["--looks", "many"], "--looks: must be a number of looks"),
        (["--segment", "country"], "--segment: unknown attribute 'country'"),
    ],
    ids=["guardrail-sign", "guardrail-form", "guardrail-metric", "primary", "guardrail-primary",
         "looks", "segment"],
)
def test_bad_options_are_one_line_and_exit_2(ab_logs, tmp_path, capsys, options, message):
    out = tmp_path / "out"
    code = main(["analyze", str(ab_logs["post"]), "--experiment", "AB", "--out", str(out),
                 *options])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()


def test_degenerate_treatment_stays_a_row_with_a_reason(ab_logs):
    from botify.events import read_events

    result = analyze(read_events([ab_logs["post"]]), "AB",
                     configured=["random", "sticky", "ghost"])
    ghost = result.decisions.set_index(col.TREATMENT).loc["T2"]
    assert ghost[col.DECISION] == "inconclusive"
    checks = result.checks[result.checks[col.TREATMENT] == "T2"]
    assert (checks[col.STATUS] == "unclear").all() and checks[col.REASON].str.len().gt(0).all()
    assert np.isnan(ghost[col.EFFECT])
