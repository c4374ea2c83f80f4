"""``sessions = "auto"``: a day sized from the day before's log by the power calculation."""

from __future__ import annotations

import math
import textwrap

import pytest

from botify.analysis import columns as col
from botify.analysis.power import required_users
from botify.analysis.sessions import sessionize_events, user_metrics
from botify.analysis.synthetic import generate_events, write_events
from botify.errors import DataError
from botify.events import read_events
from botify.experiment.plan import load_plan
from botify.experiment.sizing import size_day

PLAN = """
[world]
seed = 1
tracks = 1000
users = 300

[[days]]
sessions = 100
arms = ["random", "sticky_artist", "sticky_genre"]

[[days]]
sessions = "auto"
{sizing}
arms = ["random", "sticky_artist", "sticky_genre"]
"""


@pytest.fixture(scope="module")
def day1(tmp_path_factory):
    log = tmp_path_factory.mktemp("logs") / "day1" / "data.jsonl"
    write_events(generate_events(1200, recommenders=("random", "sticky_artist", "sticky_genre"),
                                 open_sessions=0.05, seed=4), log)
    return log.parent


def _plan(tmp_path, sizing: str):
    path = tmp_path / "plan.toml"
    path.write_text(textwrap.dedent(PLAN.format(sizing=sizing)))
    return load_plan(path)


def test_the_day_gets_the_sessions_the_power_calculation_asks_for(tmp_path, day1):
    plan = _plan(tmp_path, 'mde = "4%"\npower = 0.9')
    day = size_day(plan.days[1], plan, day1, world_users=100_000)

    users = user_metrics(sessionize_events(read_events([day1])).table)
    values = users[col.MEAN_TIME_PER_SESSION]
    per_arm = required_users(values.var(ddof=1), 0.04 * values.mean(), power=0.9, treatments=2)
    assert per_arm > 100  # the calculation, not the floor of 2
    assert day.sessions == 3 * math.ceil(per_arm * users[col.SESSIONS].mean())
    assert f"{per_arm:,} users per arm, {day.sessions:,} sessions" in day.sizing.said
    assert "over 2 treatment(s)" in day.sizing.said and "capped" not in day.sizing.said
    assert "world has only" not in day.sizing.said
    assert plan.days[1].sessions is None, "the plan itself is unchanged"


def test_a_smaller_effect_needs_more_sessions(tmp_path, day1):
    plan = _plan(tmp_path, 'mde = "4%"')
    wide = _plan(tmp_path, 'mde = "8%"')
    many = size_day(plan.days[1], plan, day1, 10_000).sessions
    few = size_day(wide.days[1], wide, day1, 10_000).sessions
    assert many / few == pytest.approx(4, rel=0.02)  # n ~ 1 / mde^2


def test_the_cap_and_a_small_world_are_said(tmp_path, day1):
    plan = _plan(tmp_path, 'mde = "2%"\nmax_sessions = 500')
    day = size_day(plan.days[1], plan, day1, world_users=300)
    assert day.sessions == 500
    assert "capped at max_sessions = 500, so below the power asked" in day.sizing.said
    assert "the world has only 300 users" in day.sizing.said


def test_an_empty_log_is_a_data_error(tmp_path):
    plan = _plan(tmp_path, 'mde = "5%"')
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "data.jsonl").write_text("")
    with pytest.raises(DataError):
        size_day(plan.days[1], plan, tmp_path / "empty", 300)
