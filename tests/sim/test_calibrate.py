"""The calibration table (``python -m sim.calibrate``) on a small world."""

from __future__ import annotations

import numpy as np

from sim.agents import RandomAgent
from sim.calibrate import calibration_table, checks, format_table, main
from sim.envs.session import plan_sessions
from sim.rollout import run_episodes


def test_calibration_targets_hold(small_world):
    rows = calibration_table(small_world, episodes=500, seed=2)
    assert [r["agent"] for r in rows] == ["Random", "StickyArtist", "oracle"]
    assert all(met for _, met in checks(rows)), checks(rows)
    # the Random row is the mean of an independent run on the same sessions (tracks = steps + 1)
    results = run_episodes(
        small_world, RandomAgent(small_world.n_tracks, 2), plan_sessions(small_world, 500, 2)
    )
    assert rows[0]["tracks"] == np.mean(results.steps) + 1
    assert rows[0]["time"] == np.mean(results.rewards)
    table = format_table(rows)
    assert table.count("\n") == 4 and "| oracle |" in table


def test_command_prints_the_table(world_dir, capsys):
    assert main(["--world", str(world_dir), "--episodes", "300"]) == 0
    out = capsys.readouterr().out
    assert "| Random |" in out and "| StickyArtist |" in out and "MISS" not in out
