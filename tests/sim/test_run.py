"""``python -m sim.run`` with the in-process agents: days, modes, seeds, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sim.run import main


def _summary(tmp_path, name, *args):
    path = tmp_path / f"{name}.json"
    assert main([*args, "--no-progress", "--summary-json", str(path)]) == 0
    return json.loads(path.read_text())["days"]


@pytest.mark.parametrize("recommender", ["dummy", "oracle", "sticky"])
def test_single_and_multi_give_the_same_days(world_dir, tmp_path, recommender):
    args = ["--episodes", "250", "--world", str(world_dir), "--days", "2"]
    single = _summary(
        tmp_path, "single", *args, "single", "--recommender", recommender, "--seed", "3"
    )
    multi = _summary(
        tmp_path,
        "multi",
        *args,
        "--recommender",
        recommender,
        "--seed",
        "3",
        "multi",
        "--processes",
        "2",
    )
    assert single == multi
    assert single[0] != single[1]  # days are different samples
    other = _summary(
        tmp_path, "other", *args, "single", "--recommender", recommender, "--seed", "4"
    )
    assert other != single


def test_first_day_plays_that_day_of_the_run(world_dir, tmp_path):
    args = ["--episodes", "150", "--world", str(world_dir), "--seed", "5", "single"]
    both = _summary(tmp_path, "both", "--days", "2", *args, "--recommender", "oracle")
    second = _summary(
        tmp_path, "second", "--days", "1", "--first-day", "2", *args, "--recommender", "oracle"
    )
    assert [d["day"] for d in second] == [2]
    assert second[0] == both[1]


def test_summary_numbers_are_means_and_standard_errors(world_dir, tmp_path):
    from sim.envs.session import plan_sessions
    from sim.run import day_seed
    from sim.world import load_world

    days = _summary(
        tmp_path,
        "o",
        "--episodes",
        "120",
        "--world",
        str(world_dir),
        "--days",
        "1",
        "single",
        "--recommender",
        "oracle",
        "--seed",
        "9",
    )
    # the oracle is deterministic given the sessions: recompute day 1 independently
    from sim.agents import OracleAgent
    from sim.rollout import run_episodes

    world = load_world(world_dir)
    plan_seed, _ = day_seed(9, 1).spawn(2)
    results = run_episodes(world, OracleAgent(world), plan_sessions(world, 120, plan_seed))
    expected_sem = results.rewards.std(ddof=1) / len(results.rewards) ** 0.5
    assert days[0]["reward_mean"] == pytest.approx(results.rewards.mean(), abs=1e-12)
    assert days[0]["reward_sem"] == pytest.approx(expected_sem, abs=1e-12)
    assert days[0]["steps_mean"] == pytest.approx(results.steps.mean(), abs=1e-12)


def _cli(*args, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "sim.run", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_single_pauses_between_days_until_told_to_stop(world_dir):
    done = _cli(
        "--episodes",
        "20",
        "--world",
        str(world_dir),
        "--no-progress",
        "single",
        "--recommender",
        "dummy",
        stdin="\nq\n",
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["1", "2"]
    assert done.stderr.count("press Enter to simulate") == 2


def test_missing_world_exits_2_with_the_generator_command(tmp_path):
    done = _cli(
        "--episodes",
        "5",
        "--world",
        str(tmp_path / "none"),
        "--days",
        "1",
        "single",
        "--recommender",
        "dummy",
    )
    assert done.returncode == 2
    assert "python -m sim.world" in done.stderr and "Traceback" not in done.stderr


def test_console_in_multi_is_refused(world_dir):
    done = _cli("--world", str(world_dir), "--recommender", "console", "multi")
    assert done.returncode == 2 and "use single" in done.stderr


def test_bad_config_is_a_clear_error(world_dir, tmp_path):
    config = tmp_path / "env.yml"
    config.write_text("remote:\n  read_timeout: soon\n")
    done = _cli("--config", str(config), "--world", str(world_dir), "single")
    assert done.returncode == 2 and "read_timeout must be a number" in done.stderr
