"""The in-process agents: dummy, StickyArtist, oracle, console, and the recommender adapter."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from botify.recommenders.base import RecommenderContext
from botify.recommenders.sticky import StickyArtist
from botify.store.catalog import RedisCatalog, load_catalog
from sim.agents import (
    ConsoleAgent,
    OracleAgent,
    RandomAgent,
    RecommenderAgent,
    StickyArtistAgent,
)
from sim.envs.session import Session, plan_sessions
from sim.errors import SimError
from sim.rollout import play_episode, run_episodes
from sim.world.files import TRACKS_FILE


def _time_now(world, session, track):
    """The listening time the user model gives ``track`` now (independent of the session code)."""
    if track in session.played:
        return 0.0
    score = float(world.embeddings[track].astype(np.float64) @ session.taste.astype(np.float64))
    raw = 1.0 / (1.0 + math.exp(-(score - session.bias) * session.sharpness))
    k = session.artist_plays.get(int(world.artist_of[track]), 0)
    return float(np.around(raw * session.gamma**k, 2))


@pytest.mark.parametrize("candidates", [256, 4], ids=["default", "tiny-pool-fallback"])
def test_oracle_picks_the_best_unplayed_track(small_world, candidates):
    world = small_world
    agent = OracleAgent(world, candidates=candidates)
    for start in plan_sessions(world, 6, seed=2):
        session = Session(world, start)
        agent.start(session)
        while not session.done:
            choice = agent.recommend(session)
            best = max(_time_now(world, session, t) for t in range(world.n_tracks))
            assert choice not in session.played
            assert abs(_time_now(world, session, choice) - best) < 1e-9
            session.listen(choice)


def test_agents_are_ordered_as_calibrated(small_world):
    starts = plan_sessions(small_world, 300, seed=6)
    random = run_episodes(small_world, RandomAgent(small_world.n_tracks, 1), starts)
    sticky = run_episodes(small_world, StickyArtistAgent(small_world, 1), starts)
    oracle = run_episodes(small_world, OracleAgent(small_world), starts)
    assert random.rewards.mean() < sticky.rewards.mean() < oracle.rewards.mean()
    assert oracle.rewards.mean() >= 4 * random.rewards.mean()
    # common random numbers: the same users in the same order
    np.testing.assert_array_equal(random.users, oracle.users)


def test_sticky_artist_stays_with_the_artist(small_world):
    world = small_world
    agent = StickyArtistAgent(world, 3)
    for start in plan_sessions(world, 20, seed=1):
        session = Session(world, start)
        while not session.done:
            previous = session.last_track
            choice = agent.recommend(session)
            assert world.artist_of[choice] == world.artist_of[previous]
            assert choice != previous or len(world.artist_tracks(world.artist_of[previous])) == 1
            session.listen(choice)


def test_random_agent_is_uniform(small_world):
    agent = RandomAgent(small_world.n_tracks, 0)
    picks = np.array([agent.recommend(None) for _ in range(20000)])
    counts = np.bincount(picks // 200, minlength=10)
    # 10 bins of 2,000 expected each: a chi-square far below the 0.001 critical value (27.9)
    assert ((counts - 2000) ** 2 / 2000).sum() < 27.9


def test_console_agent_shows_the_previous_track_and_reads_ids(small_world):
    world = small_world
    (start,) = plan_sessions(world, 1, seed=0)
    first = world.track_record(start.first_track)
    lines = iter(["12\n", "oops\n", "999999\n", "\n"] + ["7\n"] * 200)
    out = io.StringIO()
    agent = ConsoleAgent(world, read_line=lambda: next(lines), out=out, rng=0)
    session = Session(world, start)
    agent.start(session)
    assert agent.recommend(session) == 12
    session.listen(12)
    second = agent.recommend(session)  # "oops" and 999999 are refused, then Enter: random
    text = out.getvalue()
    assert f"{first['artist']} - {first['title']}" in text
    record = world.track_record(12)
    assert f"{record['artist']} - {record['title']}" in text
    assert f"listened {session.last_time:.0%}" in text
    assert "'oops' is not a track id" in text and "'999999' is not a track id" in text
    assert 0 <= second < world.n_tracks


def test_console_agent_stops_cleanly_at_end_of_input(small_world):
    (start,) = plan_sessions(small_world, 1, seed=0)
    agent = ConsoleAgent(small_world, read_line=lambda: "", out=io.StringIO())
    with pytest.raises(SimError, match="input ended"):
        play_episode(small_world, agent, start)


class _NextId:
    """A recommender object that only has ``recommend_next``: the next id, wrapping around."""

    def __init__(self, n):
        self.n = n
        self.calls = []

    def recommend_next(self, user, prev_track, prev_time):
        self.calls.append((user, prev_track, prev_time))
        return (prev_track + 1) % self.n


def test_recommender_adapter_passes_ids_and_reports_the_end(small_world):
    world = small_world
    recommender = _NextId(world.n_tracks)
    ended = []
    agent = RecommenderAgent(world, recommender, on_last=lambda *a: ended.append(a))
    starts = plan_sessions(world, 10, seed=3)
    results = run_episodes(world, agent, starts)
    assert len(recommender.calls) == results.steps.sum() and len(ended) == 10
    first_call = recommender.calls[0]
    assert first_call == (int(world.user_ids[starts[0].user]), starts[0].first_track, 1.0)
    assert [e[0] for e in ended] == results.users.tolist()


def test_recommender_adapter_rejects_unknown_tracks(small_world):
    class Bad:
        def recommend_next(self, user, prev_track, prev_time):
            return -5

    (start,) = plan_sessions(small_world, 1, seed=0)
    with pytest.raises(SimError, match="recommended -5"):
        play_episode(small_world, RecommenderAgent(small_world, Bad()), start)


def test_botify_sticky_artist_in_process_matches_the_simulators(
    small_world, world_dir, redis_client
):
    """The service's StickyArtist, run in-process on Redis, plays like the in-process agent."""
    load_catalog(redis_client, world_dir / TRACKS_FILE)
    catalog = RedisCatalog(redis_client)
    catalog.sync()
    context = RecommenderContext(redis_client, catalog, {}, np.random.default_rng(0))
    botify_sticky = StickyArtist(context, StickyArtist.Params())
    starts = plan_sessions(small_world, 400, seed=10)
    served = run_episodes(small_world, RecommenderAgent(small_world, botify_sticky), starts)
    local = run_episodes(small_world, StickyArtistAgent(small_world, 1), starts)
    diff = served.rewards - local.rewards  # paired: same sessions
    sem = diff.std(ddof=1) / math.sqrt(len(diff))
    assert abs(diff.mean()) < 4 * sem + 1e-9
