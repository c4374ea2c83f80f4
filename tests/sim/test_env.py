"""The gymnasium environment ``sim/Botify-v0`` and the session model behind it."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sim.agents.dummy import RandomAgent
from sim.envs import ENV_ID, BotifyEnv, Session, SessionStart, plan_sessions
from sim.rollout import run_episodes


@pytest.fixture()
def env(small_world):
    return gym.make(ENV_ID, world=small_world)


def test_check_env_passes(small_world):
    check_env(gym.make(ENV_ID, world=small_world).unwrapped, skip_render_check=False)


def test_make_without_arguments_builds_a_default_world():
    env = gym.make(ENV_ID, default_tracks=300, default_users=20)
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    assert env.unwrapped.world.n_tracks == 300


def _rollout(env, seed, n_episodes=5):
    actions = np.random.default_rng(seed + 1)
    trace = []
    obs, info = env.reset(seed=seed)
    for _ in range(n_episodes):
        done = False
        trace.append(("reset", int(obs["user"]), int(obs["track"])))
        while not done:
            obs, reward, done, truncated, info = env.step(int(actions.integers(0, 2000)))
            trace.append((int(obs["track"]), reward, done, info["budget"]))
        obs, info = env.reset()
    return trace


def test_two_rollouts_with_the_same_seed_are_identical(env):
    first = _rollout(env, 11)
    second = _rollout(env, 11)
    assert first == second
    assert _rollout(env, 12) != first


def _expected_time(world, session_tracks, track, user, taste):
    """The user model's listening time, written independently: 0 if played, else a rounded
    sigmoid with fatigue."""
    if track in session_tracks:
        return 0.0
    score = float(np.dot(world.embeddings[track].astype(np.float64), taste.astype(np.float64)))
    raw = 1.0 / (
        1.0 + math.exp(-(score - world.consume_bias[user]) * world.consume_sharpness[user])
    )
    k = sum(world.artist_of[t] == world.artist_of[track] for t in session_tracks)
    return float(np.around(raw * world.artist_gamma[user] ** k, 2))


def test_listening_follows_spec_6(small_world):
    world = small_world
    for start in plan_sessions(world, 30, seed=3):
        session = Session(world, start)
        taste = world.embeddings[start.interest]
        played = [start.first_track]
        budget = int(world.session_budget[start.user])
        draws = np.random.Generator(np.random.PCG64(start.seed)).random(200)
        rng = np.random.default_rng(start.seed)
        artist = world.artist_tracks(int(world.artist_of[start.first_track]))
        step = 0
        while not session.done:
            # a mix of the same artist (fatigue), replays and random tracks
            options = [int(rng.choice(artist)), played[-1], int(rng.integers(0, world.n_tracks))]
            track = options[step % 3]
            expected = _expected_time(world, played, track, start.user, taste)
            got = session.listen(track)
            assert abs(got - expected) < 1e-9
            budget -= int(draws[step] > expected)
            played.append(track)
            step += 1
            assert session.budget == budget
        assert budget == 0 and session.steps == step
        assert abs(session.reward - (1.0 + sum(_played_times(world, played, start)))) < 1e-9


def _played_times(world, played, start):
    taste = world.embeddings[start.interest]
    return [
        _expected_time(world, played[:i], played[i], start.user, taste)
        for i in range(1, len(played))
    ]


def test_session_start_follows_spec_6(small_world):
    world = small_world
    starts = plan_sessions(world, 200, seed=4)
    for start in starts:
        assert start.interest in world.interests(start.user).tolist()
        scores = world.embeddings @ world.embeddings[start.interest]
        tenth_best = np.sort(scores)[-10]
        assert scores[start.first_track] >= tenth_best
    # users are drawn uniformly, interests and first tracks vary
    assert len({s.user for s in starts}) > 100
    assert len({s.first_track for s in starts}) > 150
    assert plan_sessions(world, 200, seed=4) == starts


def test_plan_can_be_restricted_to_given_users(small_world):
    starts = plan_sessions(small_world, 50, seed=1, users=[3, 7])
    assert {s.user for s in starts} == {3, 7}


def test_env_with_a_planned_start_matches_run_episodes(small_world):
    world = small_world
    starts = plan_sessions(world, 20, seed=8)
    results = run_episodes(world, RandomAgent(world.n_tracks, 5), starts)
    env = BotifyEnv(world=world)
    agent_rng = RandomAgent(world.n_tracks, 5)
    for i, start in enumerate(starts):
        obs, info = env.reset(options={"start": start})
        assert int(obs["track"]) == start.first_track
        total, steps, done = 1.0, 0, False
        while not done:
            obs, reward, done, _, info = env.step(agent_rng.recommend(env.session))
            total += reward
            steps += 1
        assert steps == results.steps[i] and abs(total - results.rewards[i]) < 1e-9
        assert info["user_id"] == results.users[i]


def test_step_errors(small_world):
    env = BotifyEnv(world=small_world)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not a track position"):
        env.step(small_world.n_tracks)
    with pytest.raises(TypeError):
        env.reset(options={"start": (1, 2, 3, 4)})


def test_render_ansi_names_the_track(small_world):
    env = BotifyEnv(world=small_world, render_mode="ansi")
    env.reset(seed=0, options={"start": SessionStart(0, 0, 0, 1)})
    env.step(5)
    line = env.render()
    assert (
        small_world.titles[5] in line and small_world.artist_names[small_world.artist_of[5]] in line
    )
