"""Plan files: everything wrong is found before anything starts, named by file and key path."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from botify.cli import main
from botify.errors import ConfigError
from botify.experiment.plan import load_plan
from botify.experiment.run import RunOptions, effective

ROOT = Path(__file__).resolve().parents[3]

GOOD = """
out = "results"

[world]
seed = 3
tracks = 1000
users = 200

[recommenders.popular]
type = "top_pop"
k = 10

[artifacts]
top_tracks = "top.jsonl"

[[days]]
sessions = 100
arms = ["random", "sticky_artist"]

[[days]]
sessions = 200
arms = ["sticky_artist", "popular"]
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "top.jsonl").write_text(
        "".join(json.dumps({"track": t, "score": 1.0 / (t + 1)}) + "\n" for t in range(5))
    )
    path = tmp_path / "plan.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_plan_reads_back(tmp_path):
    plan = load_plan(write(tmp_path, GOOD))
    assert [d.number for d in plan.days] == [1, 2]
    assert [d.analyze for d in plan.days] == [False, True]  # day 1 is a cold start by default
    assert plan.days[1].arms == ("sticky_artist", "popular")
    assert plan.days[0].experiment == "DAY1"
    assert plan.world.seed == 3 and plan.recommenders["popular"] == {"type": "top_pop", "k": 10}
    assert plan.artifacts["top_tracks"].endswith("top.jsonl")


def test_options_override_the_plan(tmp_path):
    plan = load_plan(write(tmp_path, GOOD))
    quick = effective(plan, RunOptions(seed=9, out=tmp_path / "o", quick=True))
    assert quick.world.seed == 9 and quick.out == tmp_path / "o"
    assert [d.sessions for d in quick.days] == [300, 300]  # a tenth, at least 300
    assert effective(plan, RunOptions()).days == plan.days


def test_an_auto_day_reads_its_sizing_and_stays_auto_in_quick_runs(tmp_path):
    plan = load_plan(write(tmp_path, _replace(
        "sessions = 200", 'sessions = "auto"\nmde = 0.25\npower = 0.9\nmax_sessions = 5000')))
    sizing = plan.days[1].sizing
    assert plan.days[1].sessions is None
    assert (sizing.mde, sizing.relative, sizing.power, sizing.max_sessions) == (0.25, False, 0.9,
                                                                                5000)
    assert load_plan(write(tmp_path, _replace("sessions = 200", 'sessions = "auto"\nmde = "5%"'))
                     ).days[1].sizing.relative
    quick = effective(plan, RunOptions(quick=True))
    assert [d.sessions for d in quick.days] == [300, None]


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_replace('out = "results"', 'out = "results"\nouts = 1'),
         "unknown key 'outs'"),
        (_replace('arms = ["sticky_artist", "popular"]', 'arms = ["sticky_artist", "mine"]'),
         "days[1].arms[1]: 'mine' is not a configured recommender"),
        (_replace("sessions = 200\n", ""), "days[1].sessions: missing"),
        (_replace("sessions = 200", "sessions = 0"), "days[1].sessions: must be at least 1"),
        (_replace("sessions = 200", 'sessions = "many"'),
         'days[1].sessions: must be a positive integer or "auto"'),
        (_replace("sessions = 100", 'sessions = "auto"\nmde = "5%"'),
         "days[0].sessions: the first day has no earlier log to size it from"),
        (_replace("sessions = 200", 'sessions = "auto"'), "days[1].mde: missing"),
        (_replace("sessions = 200", 'sessions = "auto"\nmde = "lots"'),
         "days[1].mde must be a relative effect such as 5%"),
        (_replace("sessions = 200", 'sessions = "auto"\nmde = -1'), "days[1].mde must be positive"),
        (_replace("sessions = 200", 'sessions = "auto"\nmde = "5%"\npower = 1.5'),
         "days[1].power: must be between 0 and 1"),
        (_replace("sessions = 200", 'sessions = "auto"\nmde = "5%"\nquick_sessions = 9'),
         "days[1].quick_sessions: a day with sessions = \"auto\" is sized in quick runs too"),
        (_replace("sessions = 200", 'sessions = 200\nmde = "5%"'),
         'days[1].mde: only with sessions = "auto"'),
        (_replace('sessions = 200\narms = ["sticky_artist", "popular"]',
                  'sessions = "auto"\nmde = "5%"\narms = ["sticky_artist"]'),
         "days[1].sessions: \"auto\" sizes a comparison: the day needs a treatment"),
        (_replace('arms = ["random", "sticky_artist"]', "arms = []"),
         "days[0].arms: a day needs at least one arm"),
        (_replace('arms = ["random", "sticky_artist"]', 'arms = ["random", "random"]'),
         "days[0].arms[1]: 'random' is already an arm"),
        (_replace("k = 10", "k = 0"),
         "recommenders['popular'] (top_pop): parameter 'k' must be in [1, inf]"),
        (_replace("k = 10", "kk = 10"), "recommenders['popular'] (top_pop): unknown parameter"),
        (_replace('type = "top_pop"', 'type = "nowhere_module:Mine"'),
         "cannot import 'nowhere_module'"),
        (_replace('top_tracks = "top.jsonl"', 'other = "top.jsonl"'),
         "days[1].arms[1]: 'popular' reads the artifact 'top_tracks', which no training step "
         "before day 2 produces"),
        (_replace('top_tracks = "top.jsonl"', 'top_tracks = "missing.jsonl"'),
         "artifacts.top_tracks: no such file"),
        (_replace("users = 200", "users = 200\ndir = 'x'"), "world: give either dir or"),
        (GOOD + "\n[days.train]\nmodels = []\n", "days[1].train.models: name at least one"),
        (GOOD + "\n[days.train]\nmodels = ['x']\nlogs = [2]\n",
         "days[1].train.logs[0]: must be the number of an earlier day (1..1), got 2"),
        (GOOD + "\n[days.train]\nmodels = ['nope']\n", "days[1].train.models[0]: unknown model"),
        (GOOD + "\n[analysis]\nalpha = 2\n", "analysis.alpha: must be between 0 and 1"),
        (GOOD + "\n[analysis]\nmetrics = ['fun']\n", "analysis.metrics[0]: unknown metric"),
        (GOOD + "\n[analysis]\npre = [2]\n", "analysis.pre[0]: day 2 is not before"),
        (GOOD + "\n[analysis]\ncorrection = 'bonferroni'\n", "analysis.correction: must be"),
        ("[[days]\n", "not valid TOML"),
        ('out = "x"\n', "days: missing"),
    ],
    ids=["unknown-key", "unknown-arm", "no-sessions", "zero-sessions", "sessions-type",
         "auto-first-day", "auto-no-mde", "auto-bad-mde", "auto-negative-mde", "auto-power",
         "auto-quick", "mde-without-auto", "auto-one-arm", "no-arms",
         "repeated-arm", "param-range", "unknown-param", "plugin-import", "artifact-not-trained",
         "artifact-missing", "world-both", "train-no-models", "train-future-logs",
         "unknown-model", "alpha", "metric", "pre-after", "correction", "not-toml", "no-days"],
)
def test_every_mistake_names_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_plan(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_the_command_checks_before_anything_starts(tmp_path, capsys):
    path = write(tmp_path, _replace('"popular"]', '"mine"]'))
    assert main(["experiment", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "'mine' is not a configured recommender" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["experiment", "--check", str(write(tmp_path, GOOD))]) == 0
    assert main(["experiment", str(tmp_path / "nope.toml")]) == 2
    assert "no such plan file" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["demo.toml", "nightly.toml", "adaptive.toml"])
def test_the_shipped_plans_are_valid(name):
    plan = load_plan(ROOT / "experiments" / name)
    assert plan.days[0].arms[0] in ("random", "sticky_artist")


def test_the_homework_plan_is_valid():
    plan = load_plan(ROOT / "examples" / "homework" / "homework.toml")
    assert plan.days[-1].arms == ("sticky_artist", "mine")


BROKEN_MODEL = '''
from botify.store.artifacts import PER_TRACK


class Broken:
    """Declares per-track lists but returns a number."""

    name = "broken"
    kind = PER_TRACK
    needs = ()

    def __init__(self, settings):
        pass

    def fit(self, data):
        return 42
'''


def test_a_plugin_model_that_writes_no_artifact_is_refused_before_anything_starts(tmp_path):
    (tmp_path / "broken_model.py").write_text(BROKEN_MODEL)
    path = write(tmp_path, GOOD + "\n[days.train]\nmodels = ['broken_model:Broken']\n")
    with pytest.raises(ConfigError) as caught:
        load_plan(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: days[1].train.models[0]: 'broken_model:Broken' fails")
    assert "botify check model broken_model:Broken" in message
