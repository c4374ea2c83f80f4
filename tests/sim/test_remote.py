"""The remote agent and ``python -m sim.run`` against a real ``botify serve`` (gunicorn, Redis)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from botify.events import iter_events
from botify.store.redis_server import free_port
from sim.agents import AgentBase, RemoteAgent
from sim.envs.session import plan_sessions
from sim.errors import SimError
from sim.rollout import run_episodes
from sim.world.files import TRACKS_FILE
from tests.botify.service.serving import ServeProcess

EPISODES = 25


class Recording(AgentBase):
    """Wraps an agent and writes down what the service should log, request by request."""

    def __init__(self, inner, world):
        self.inner, self.world, self.expected = inner, world, []

    def recommend(self, session):
        track = self.inner.recommend(session)
        self.expected.append(
            (
                "next",
                session.user_id,
                int(self.world.track_ids[session.last_track]),
                session.last_time,
                int(self.world.track_ids[track]),
            )
        )
        return track

    def finish(self, session):
        self.inner.finish(session)
        self.expected.append(
            (
                "last",
                session.user_id,
                int(self.world.track_ids[session.last_track]),
                session.last_time,
                None,
            )
        )


@pytest.fixture(scope="module")
def service(redis_server, world_dir, tmp_path_factory):
    """``botify serve`` with the world's catalog, on its own Redis database (db 7)."""
    workdir = tmp_path_factory.mktemp("serve")
    config = {
        "REDIS_URL": redis_server.url.rsplit("/", 1)[0] + "/7",
        "TRACKS_CATALOG": str(world_dir / TRACKS_FILE),
        "DATA_LOG_FILE": "log/data.jsonl",
        "RECOMMENDERS": {"random": {"type": "random"}, "sticky_artist": {"type": "sticky_artist"}},
        "EXPERIMENTS": {"ALL": ["random", "sticky_artist"]},
        "ACTIVE_EXPERIMENT": "ALL",
    }
    server = ServeProcess(workdir, config, workers=1).start()
    yield server
    server.stop()


def _events(server):
    return list(iter_events([server.workdir / "log"]))


def test_remote_episodes_follow_the_course_protocol(service, small_world):
    world = small_world
    starts = plan_sessions(world, EPISODES, seed=21)
    with RemoteAgent(world, service.url) as remote:
        agent = Recording(remote, world)
        results = run_episodes(world, agent, starts)
    # first request of each session carries the first track with time 1.0
    firsts = [
        e for i, e in enumerate(agent.expected) if i == 0 or agent.expected[i - 1][0] == "last"
    ]
    assert [(e[1], e[2], e[3]) for e in firsts] == [
        (int(world.user_ids[s.user]), int(world.track_ids[s.first_track]), 1.0) for s in starts
    ]
    service.stop()  # flushes the event log
    service.start()
    logged = [
        (e["message"], e["user"], e["track"], e["time"], e["recommendation"])
        for e in _events(service)
    ]
    assert logged == agent.expected
    assert sum(m == "next" for m, *_ in logged) == results.steps.sum()
    assert sum(m == "last" for m, *_ in logged) == EPISODES
    # session time in the log = the episode rewards
    assert sum(t for _, _, _, t, _ in logged) == pytest.approx(results.rewards.sum())


def test_unreachable_service_is_a_clear_error(small_world):
    (start,) = plan_sessions(small_world, 1, seed=0)
    with RemoteAgent(small_world, f"http://127.0.0.1:{free_port()}", connect_timeout=1) as agent:
        with pytest.raises(SimError, match="cannot reach the botify service"):
            run_episodes(small_world, agent, [start])
        with pytest.raises(SimError, match="cannot reach"):
            agent.check()


def test_service_error_is_a_clear_error(service, small_world):
    from dataclasses import replace

    # a world whose track ids the service's catalog does not have: the service answers 404
    shifted = replace(small_world, track_ids=small_world.track_ids + 10**9)
    (start,) = plan_sessions(shifted, 1, seed=0)
    with RemoteAgent(shifted, service.url) as agent:
        with pytest.raises(SimError, match="answered 404 .*not in the catalog"):
            run_episodes(shifted, agent, [start])


def _run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "sim.run", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_single_and_multi_against_the_service(service, world_dir, tmp_path):
    common = ["--episodes", "30", "--world", str(world_dir), "--url", service.url, "--no-progress"]
    single = _run_cli(
        *common,
        "--days",
        "2",
        "--summary-json",
        str(tmp_path / "s.json"),
        "single",
        "--recommender",
        "remote",
        "--seed",
        "4",
    )
    assert single.returncode == 0, single.stderr
    days = json.loads((tmp_path / "s.json").read_text())["days"]
    assert [d["day"] for d in days] == [1, 2] and all(d["episodes"] == 30 for d in days)
    assert set(days[0]) == {
        "day",
        "episodes",
        "reward_mean",
        "reward_sem",
        "steps_mean",
        "steps_sem",
    }
    multi = _run_cli(
        *common,
        "--days",
        "1",
        "--recommender",
        "remote",
        "--seed",
        "4",
        "--summary-json",
        str(tmp_path / "m.json"),
        "multi",
        "--processes",
        "2",
    )
    assert multi.returncode == 0, multi.stderr
    assert json.loads((tmp_path / "m.json").read_text())["days"][0]["episodes"] == 30


def test_cli_unreachable_service_exits_2_without_traceback(world_dir):
    done = _run_cli(
        "--episodes",
        "3",
        "--days",
        "1",
        "--world",
        str(world_dir),
        "--url",
        f"http://127.0.0.1:{free_port()}",
        "single",
        "--recommender",
        "remote",
    )
    assert done.returncode == 2
    assert "cannot reach the botify service" in done.stderr and "Traceback" not in done.stderr
