"""The report files and the two commands, as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from botify.analysis import columns as col
from botify.analysis import plots
from botify.analysis.aa import aa_test
from botify.analysis.sessions import sessionize_events, user_metrics
from botify.analysis.synthetic import generate_events
from botify.cli import main

GOOD = (
    b'{"message": "last", "timestamp": 1, "user": 1, "track": 1, "time": 1.0, "latency": 0.1, '
    b'"recommendation": null, "experiments": {"AB": "C"}, "recommender": "random"}'
)
REPORT_FILES = {
    "effects.csv", "effects.json", "summary.json", "report.md", "report.html", "results.png",
    "session_length_C.png", "session_length_T1.png",
}


def run(argv: list[str]) -> int:
    """The real ``botify`` entry point (BotifyError -> one line on stderr, exit 2)."""
    return main(argv)


@pytest.fixture(scope="module")
def report(ab_logs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    code = run(["analyze", str(ab_logs["post"]), "--experiment", "AB", "--pre",
                str(ab_logs["pre"]), "--out", str(out)])
    assert code == 0
    return out


def test_analyze_writes_every_file(report):
    assert {p.name for p in report.iterdir()} == REPORT_FILES


def test_csv_and_json_hold_the_same_effects(report):
    table = pd.read_csv(report / "effects.csv", keep_default_na=False)
    assert tuple(table.columns[:9]) == col.EFFECT_COLUMNS
    records = json.loads((report / "effects.json").read_text())
    assert [r[col.METRIC] for r in records] == table[col.METRIC].tolist()
    np.testing.assert_allclose([r[col.EFFECT] for r in records], table[col.EFFECT])
    assert all(r[col.CUPED] == (r[col.METRIC] in col.METRICS) for r in records)
    summary = json.loads((report / "summary.json").read_text())
    assert summary["srm"]["mismatch"] is False
    assert set(summary["cuped"]) == set(col.METRICS)


def test_html_is_colored_as_in_the_course(report):
    page = (report / "report.html").read_text()
    assert "color:green;" in page and "color:white;background-color:green" in page
    assert "color:white;background-color:red" in page  # `sessions` is not significant
    assert '<img src="results.png"' in page
    markdown = (report / "report.md").read_text()
    assert "| T1 | sticky | mean_time_per_session |" in markdown


def test_analyze_prints_the_table(ab_logs, tmp_path, capsys):
    run(["analyze", str(ab_logs["post"]), "--experiment", "AB", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "mean_time_per_session" in printed and "p_value_holm" in printed


@pytest.mark.parametrize(
    ("lines", "extra", "message"),
    [
        (b"", [], "no events"),
        (b'{"message": "next"}\n', [], "data.jsonl:1: missing field(s) timestamp"),
        (GOOD + b"\nnot json\n", [], "data.jsonl:2: not JSON"),
        (None, ["--experiment", "NOPE"], "no event carries the experiment 'NOPE'"),
        (None, ["--control", "T5"], "control 'T5'"),
    ],
    ids=["empty", "missing-field", "not-json", "missing-experiment", "control-without-users"],
)
def test_bad_input_is_a_message_and_writes_nothing(ab_logs, tmp_path, capsys, lines, extra,
                                                   message):
    logs = ab_logs["post"]
    if lines is not None:
        logs = tmp_path / "data.jsonl"
        logs.write_bytes(lines)
    out = tmp_path / "out"
    argv = ["analyze", str(logs), "--experiment", "AB", "--out", str(out), *extra]  # last wins
    assert run(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_a_failure_while_writing_leaves_no_half_written_report(ab_logs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("the user's own file")

    def broken(fig, path):  # the disk fills up while the figures are drawn
        raise OSError("No space left on device")

    monkeypatch.setattr(plots, "save", broken)
    with pytest.raises(OSError):
        run(["analyze", str(ab_logs["post"]), "--experiment", "AB", "--out", str(out)])
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_aa_test_command_passes_and_writes_its_result(ab_logs, tmp_path, capsys):
    code = run(["aa-test", str(ab_logs["post"]), "--experiment", "AB", "--repetitions", "400",
                "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "PASS" in printed
    result = json.loads((tmp_path / "aa_test.json").read_text())
    assert 0.03 <= result["pooled_rate"] <= 0.07
    assert result["repetitions"] == 400


def test_aa_rate_follows_alpha():
    users = user_metrics(sessionize_events(generate_events(1500, seed=4)).table)
    values = {metric: users[metric].to_numpy() for metric in col.METRICS}
    at_5 = aa_test(values, repetitions=400, alpha=0.05, rng=1)
    at_20 = aa_test(values, repetitions=400, alpha=0.20, rng=1)
    assert at_5.passed
    assert 0.16 <= at_20.rate() <= 0.24 and not at_20.passed


def test_an_output_path_that_is_a_file_is_a_message(ab_logs, tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("not a directory")
    assert run(["analyze", str(ab_logs["post"]), "--experiment", "AB", "--out", str(out)]) == 2
    assert "cannot write the report" in capsys.readouterr().err
    assert out.read_text() == "not a directory"


def test_analyze_warns_of_lost_and_repeated_events(ab_logs, tmp_path, capsys):
    """Event ids with a gap and a repeat: the report says events are missing and doubled."""
    lines = next(ab_logs["post"].iterdir()).read_bytes().splitlines()
    events = [json.loads(line) for line in lines]
    for seq, event in enumerate(events, 1):
        event["id"] = f"web1.7.abc:{seq}"
    kept = events[:10] + events[11:] + events[20:21]  # event 11 lost, event 21 twice
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "data.jsonl").write_text("".join(json.dumps(e) + "\n" for e in kept))
    assert run(["analyze", str(logs), "--experiment", "AB", "--out", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().err
    assert "1 event(s) missing from the logs" in printed
    assert "1 event(s) appear twice" in printed
    capsys.readouterr()
    run(["analyze", str(ab_logs["post"]), "--experiment", "AB", "--out", str(tmp_path / "q")])
    assert "missing from the logs" not in capsys.readouterr().err
