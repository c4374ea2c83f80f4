"""``botify experiment PLAN`` for real: small worlds, the whole loop, and what it leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from botify.events import FALLBACK, iter_events, read_events
from botify.experiment.plan import load_plan
from botify.experiment.report import against_oracle
from botify.experiment.run import RunOptions, run_plan

ROOT = Path(__file__).resolve().parents[3]

# A user's own recommender and model, in a directory outside the package.
PLUGIN_RECOMMENDER = '''
from dataclasses import dataclass

from botify.params import param
from botify.recommenders.support import fallback, random_new
from botify.store.artifacts import PER_TRACK, ArtifactReader


class Neighbours:
    """A random track of the previous track's list; the fallback when it has none."""

    @dataclass(frozen=True)
    class Params:
        recs: str = param("neighbours", "per-track lists", artifact=PER_TRACK)
        fallback: str | None = param("sticky_artist", "without a list", recommender=True)

    def __init__(self, context, params):
        self.catalog, self.rng, self.recs = context.catalog, context.rng, params.recs
        self.reader = ArtifactReader(context.redis)
        self.fallback = fallback(context, params.fallback)

    def recommend_next(self, user, prev_track, prev_time):
        (entry,) = self.reader.entries(self.recs, [prev_track])
        track = random_new(entry.tracks, (), self.catalog, self.rng) if entry else None
        return track if track is not None else self.fallback.recommend_next(user, prev_track,
                                                                            prev_time)
'''

PLUGIN_MODEL = '''
import numpy as np

from botify.store.artifacts import PER_TRACK
from botify.training.artifacts import RecommendationLists


class Neighbours:
    """Per track, the tracks most often played right after it."""

    name = "neighbours"
    kind = PER_TRACK
    needs = ()

    def __init__(self, settings):
        self.k = 20

    def fit(self, data):
        pairs = data.transitions
        counts = pairs.groupby(["prev", "next"]).size().rename("n").reset_index()
        keys, items = [], []
        for prev, group in counts.groupby("prev"):
            keys.append(prev)
            items.append(group.sort_values("n", ascending=False)["next"].to_numpy()[: self.k])
        return RecommendationLists(PER_TRACK, np.asarray(keys, dtype=np.int64), items)
'''

PLAN = """
out = "out"

[world]
seed = 5
tracks = 1000
users = 300

[recommenders.mine]
type = "my_recs:Neighbours"

[[days]]
sessions = 400
arms = ["random", "sticky_artist", "sticky_genre"]

[[days]]
sessions = 600
arms = ["sticky_artist", "mine", "i2i"]

[days.train]
models = ["top_tracks", "i2i_cooc", "my_model:Neighbours"]

[[days]]
sessions = "auto"
mde = "20%"
max_sessions = 500
arms = ["sticky_artist", "mine"]
analyze = false
"""


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_a_users_recommender_and_model_run_through_the_whole_loop(tmp_path, monkeypatch, capsys):
    """Defined outside the package: served, logged, trained and analyzed like the built-ins."""
    (tmp_path / "my_recs.py").write_text(PLUGIN_RECOMMENDER)
    (tmp_path / "my_model.py").write_text(PLUGIN_MODEL)
    (tmp_path / "plan.toml").write_text(textwrap.dedent(PLAN))
    monkeypatch.chdir(tmp_path)
    before = _children()
    out = run_plan(load_plan("plan.toml"), RunOptions(worlds=tmp_path / "worlds"))

    assert (out / "models" / "neighbours.jsonl").stat().st_size > 0
    assert not (out / "day1").exists(), "day 1 is not analyzed"
    effects = pd.read_csv(out / "day2" / "effects.csv")
    assert set(effects["treatment"]) == {"T1", "T2"}
    oracle = pd.read_csv(out / "day2" / "oracle.csv")
    assert sorted(oracle["recommender"]) == ["i2i", "mine", "sticky_artist"]
    assert (oracle["percent_of_oracle"] < 100).all()
    summary = json.loads((out / "summary.json").read_text())
    day1, day2, day3 = summary["days"]
    assert list(day1["arms"]) == ["random", "sticky_artist", "sticky_genre"]
    assert day2["trained"] == ["top_tracks", "i2i_cooc", "my_model:Neighbours"]
    assert day2["arms"]["mine"]["treatment"] == "T1"
    assert day2["arms"]["mine"]["mean_time_per_session"] > 0
    assert "| mine | T1 |" in (out / "summary.md").read_text()
    offline = json.loads((out / "models" / "offline-day2.json").read_text())
    assert set(offline) == {"top_tracks", "i2i_cooc", "neighbours"}
    assert all(score["queries"] > 0 for score in offline.values())
    versus = day2["offline_vs_online"]
    rows = {r["arm"]: r for r in versus["rows"]}
    assert {arm: r["artifact"] for arm, r in rows.items()} == {"i2i": "i2i_cooc",
                                                               "mine": "neighbours"}
    assert rows["i2i"]["ndcg"] == offline["i2i_cooc"]["ndcg"]
    assert rows["mine"]["effect"] == day2["arms"]["mine"]["effect"]
    assert versus["kendall_tau"] is None  # two scored arms: too few to correlate
    assert day3["sized"].startswith("sized from day 2's log: mean_time_per_session sd ")
    assert 0 < day3["sessions"] <= 500
    played = read_events([out / "logs" / "day3"])["message"].eq("last").sum()
    assert played == day3["sessions"]  # each session ends with one /last
    assert f"Sessions {day3['sized']}." in (out / "summary.md").read_text()
    assert _children() <= before, "a process started by the experiment is still running"
    printed = capsys.readouterr().out
    assert "[6/6]" in printed and "percent_of_oracle" in printed
    assert f"day 3: {day3['sized']}" in printed
    assert "dashboard at http://127.0.0.1:" in printed  # started beside the service, stopped


def test_the_homework_example_compares_mine_with_sticky_artist(tmp_path):
    """The README's worked example, in quick mode, as a user runs it."""
    out = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "botify.cli", "experiment",
         str(ROOT / "examples" / "homework" / "homework.toml"), "--quick", "--out", str(out),
         "--worlds", str(tmp_path / "worlds")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for day in (2, 3):
        oracle = pd.read_csv(out / f"day{day}" / "oracle.csv").set_index("recommender")
        assert set(oracle.index) == {"mine", "sticky_artist"}
    summary = (out / "summary.md").read_text()
    assert "| mine | T1 |" in summary and "| sticky_artist | C |" in summary


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
    # T1's users both have 1.0 against 5.0: no spread, so the interval is the point
    assert table.loc["T1", "ci_low"] == table.loc["T1", "ci_high"] == pytest.approx(20.0)
    assert table.loc["C", "ci_low"] < 30.0 < table.loc["C", "ci_high"]


def test_the_oracle_share_s_interval_covers_the_true_share_95_times_in_100():
    # Users whose oracle time varies, and whose arm time is 70% of it plus noise: the true share
    # is 70%. Over 400 simulated experiments the 95% interval should hold it about 380 times.
    rng = np.random.default_rng(11)
    treatments = pd.DataFrame({"treatment": ["T1"], "recommender": ["b"]})
    covered = 0
    for _ in range(400):
        ceiling = rng.gamma(4.0, 2.0, size=150)
        served = 0.7 * ceiling + rng.normal(0.0, 1.5, size=150)
        users = pd.DataFrame({"user": np.arange(150), "treatment": "T1",
                              "mean_time_per_session": served})
        row = against_oracle(users, treatments, pd.Series(ceiling)).iloc[0]
        covered += row["ci_low"] <= 70.0 <= row["ci_high"]
    assert 368 <= covered <= 392  # 95% of 400 is 380; binomial sd 4.4


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_stops_everything_it_started(tmp_path, how):
    """Ctrl-C (SIGINT to the terminal's process group), or a SIGTERM to the command alone (a
    `timeout`, a CI runner), while day 1 is being simulated."""
    command = [sys.executable, "-m", "botify.cli", "experiment",
               str(ROOT / "experiments" / "demo.toml"), "--quick", "--out",
               str(tmp_path / "results"), "--worlds", str(tmp_path / "worlds")]
    driver = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    seen = []
    for line in driver.stdout:
        seen.append(line)
        if "recommender remote" in line:  # the simulator of day 1 has started
            break
    assert driver.poll() is None, "".join(seen)[-3000:]
    time.sleep(2)
    assert any(line.startswith("dashboard at http://127.0.0.1:") for line in seen)
    started = [c.pid for c in psutil.Process(driver.pid).children(recursive=True)]
    assert len(started) >= 3, "expected Redis, the service and the simulator to be running"
    if how == "ctrl-c":
        os.killpg(driver.pid, signal.SIGINT)
    else:
        driver.send_signal(signal.SIGTERM)
    output, _ = driver.communicate(timeout=60)
    assert driver.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    alive = [
        pid
        for pid in started
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == []


def test_the_homework_files_pass_their_checks(monkeypatch, capsys):
    """Steps 1 and 2 of the README's worked example: botify check on the user's two files."""
    from botify.cli import main

    monkeypatch.chdir(ROOT / "examples" / "homework")
    assert main(["check", "recommender", "homework_recs:ArtistMix"]) == 0
    assert main(["check", "model", "homework_models:ItemKNN"]) == 0
    printed = capsys.readouterr().out
    assert "ok    no repeats" in printed and "FAIL" not in printed
    # A parameter out of its declared range is one message and exit 2.
    assert main(["check", "recommender", "homework_recs:ArtistMix",
                 "--param", "artist_share=2"]) == 2
    assert "parameter 'artist_share' must be in [0, 1]" in capsys.readouterr().out


CLUSTER_PLAN = """
out = "out"

[world]
seed = 5
tracks = 1000
users = 300

[recommenders.likes]
type = "favorites"
per_user = "user_cf"
per_track = "i2i_cooc"

[recommenders.lists]
type = "indexed"
recs = "user_cf"

[[days]]
sessions = 300
arms = ["random", "sticky_artist"]

[[days]]
sessions = 400
arms = ["i2i", "likes", "lists"]

[days.train]
models = ["top_tracks", "i2i_cooc", "user_cf"]
"""


def test_an_experiment_on_a_redis_cluster(tmp_path, monkeypatch):
    """The whole loop on a private three-master cluster: loads, training's artifacts, the
    stateful arms, and not one answer that is the fallback of a failed Redis read."""
    (tmp_path / "plan.toml").write_text(textwrap.dedent(CLUSTER_PLAN))
    monkeypatch.chdir(tmp_path)
    before = _children()
    out = run_plan(load_plan("plan.toml"),
                   RunOptions(worlds=tmp_path / "worlds", redis_cluster=3))
    logs = sorted((out / "logs").glob("day*/*.jsonl*"))
    nexts = [event for event in iter_events(logs) if event["message"] == "next"]
    assert {e["recommender"] for e in nexts} == {"random", "sticky_artist", "i2i", "likes", "lists"}
    failed = [e for e in nexts if e.get(FALLBACK)]
    assert failed == [], "a recommender failed on the cluster"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["days"][1]["trained"] == ["top_tracks", "i2i_cooc", "user_cf"]
    assert all(arm["mean_time_per_session"] > 0 for arm in summary["days"][1]["arms"].values())
    assert _children() <= before, "a process started by the experiment is still running"
