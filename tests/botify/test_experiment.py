"""``botify experiment`` (``make demo``): the loop on a small world, and what it leaves behind."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pandas as pd
import psutil
import pytest

from botify.events import read_events
from botify.experiment import DAY2_RECOMMENDERS, ExperimentSettings, run_experiment
from botify.experiment_report import against_oracle


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_quick_loop_writes_the_report_and_stops_everything(tmp_path, capsys):
    before = _children()
    settings = ExperimentSettings(out=tmp_path / "results", worlds=tmp_path / "worlds").quick()
    settings = replace(settings, day1_sessions=600, day2_sessions=1200, epochs=1)
    out = run_experiment(settings)

    for name in ("report.md", "report.html", "results.png", "effects.csv", "oracle.csv"):
        assert (out / name).stat().st_size > 0, name
    effects = pd.read_csv(out / "effects.csv")
    assert set(effects["treatment"]) == {f"T{i}" for i in range(1, len(DAY2_RECOMMENDERS))}
    oracle = pd.read_csv(out / "oracle.csv")
    assert sorted(oracle["recommender"]) == sorted(DAY2_RECOMMENDERS)
    # The oracle is the ceiling of every recommender on the same sessions.
    assert (oracle["percent_of_oracle"] < 100).all()
    assert "Against the oracle" in (out / "report.md").read_text()
    # Both days were logged, the models were trained from day 1 and loaded.
    day1 = read_events([out / "logs" / "day1"])
    assert set(day1["recommender"]) == set(settings.cold_start)
    assert {p.stem for p in (out / "models").glob("*.jsonl")} >= {"multidae", "ranker"}
    assert _children() <= before, "a process started by the experiment is still running"
    printed = capsys.readouterr().out
    assert "[6/6]" in printed and "percent_of_oracle" in printed

    # The world is kept, with the recipe that decides whether a later run reuses it.
    world = next((tmp_path / "worlds").iterdir())
    assert json.loads((world / "world.json").read_text())["tracks"] == settings.tracks


def test_against_oracle_on_a_hand_made_example():
    users = pd.DataFrame(
        {
            "user": [1, 2, 3, 4],
            "treatment": ["C", "C", "T1", "T1"],
            "mean_time_per_session": [2.0, 4.0, 1.0, 1.0],
        }
    )
    treatments = pd.DataFrame({"treatment": ["C", "T1"], "recommender": ["a", "b"]})
    oracle = pd.Series([10.0, 10.0, 5.0, 5.0], index=[1, 2, 3, 4])
    table = against_oracle(users, treatments, oracle).set_index("treatment")
    assert table.loc["C", "percent_of_oracle"] == pytest.approx(30.0)
    assert table.loc["T1", "percent_of_oracle"] == pytest.approx(20.0)
    assert table.loc["C", "recommender"] == "a"


def test_ctrl_c_stops_everything_it_started(tmp_path):
    """Ctrl-C (SIGINT to the terminal's process group) while day 1 is being simulated."""
    command = [
        sys.executable,
        "-m",
        "botify.cli",
        "experiment",
        "--quick",
        "--out",
        str(tmp_path / "results"),
        "--worlds",
        str(tmp_path / "worlds"),
    ]
    driver = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    for line in driver.stdout:
        if "[3/6]" in line:
            break
    time.sleep(2)
    started = [c.pid for c in psutil.Process(driver.pid).children(recursive=True)]
    assert len(started) >= 3, "expected Redis, the service and the simulator to be running"
    os.killpg(driver.pid, signal.SIGINT)
    output, _ = driver.communicate(timeout=60)
    assert driver.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    alive = [
        pid
        for pid in started
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == []


@pytest.mark.parametrize(
    ("value", "message"),
    [("random,nope", "lacks nope"), (" , ", "names no recommender")],
    ids=["unknown", "empty"],
)
def test_cold_start_names_are_checked_before_anything_starts(tmp_path, capsys, value, message):
    from botify.cli import main

    before = _children()
    out = tmp_path / "results"
    code = main(["experiment", "--quick", "--cold-start", value, "--out", str(out)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and _children() <= before
