"""Simulator speed: world generation, in-process episodes, and remote episodes against botify serve.

Targets: a 50,000-track, 10,000-user world in < 30 s; in-process random >= 1,000
episodes/s; in-process oracle >= 200 episodes/s on that world; remote with 2 processes limited by
the service, not the client (the client's CPU per request well under the server's). The course's
simulator did about 66 episodes/s in-process (random) and 20 to 30 against its service; as a
baseline measured in the same run, a plain per-step numpy loop of the same user model (the way the
course wrote it) is timed too, and speeds are quoted against it.

    .venv/bin/python bench/bench_sim.py [--tracks 50000] [--users 10000] [--skip-remote]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import redis
import requests
from scipy.special import expit

from botify.store.redis_server import EmbeddedRedis, free_port
from sim.agents import OracleAgent, RandomAgent, RemoteAgent
from sim.envs.session import plan_sessions
from sim.rollout import run_episodes
from sim.threads import single_threaded_blas
from sim.world import World, generate_world, load_world, save_world

GENERATE_TARGET_S = 30.0
RANDOM_TARGET = 1000.0
ORACLE_TARGET = 200.0
# "well under": the client may use at most this share of the server's CPU per request
CLIENT_SHARE_TARGET = 0.5


def naive_random_episodes(world: World, episodes: int, seed: int) -> float:
    """Baseline: the user model written plainly, per step numpy calls (as the course's code)."""
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    for _ in range(episodes):
        user = int(rng.integers(world.n_users))
        interest = int(rng.choice(world.interests(user)))
        taste = world.embeddings[interest]
        nearest = np.argsort(-(world.embeddings @ taste))[:10]
        played = [int(rng.choice(nearest))]
        budget = int(world.session_budget[user])
        while budget > 0:
            track = int(rng.integers(world.n_tracks))
            if track in played:
                time_ = 0.0
            else:
                score = np.dot(world.embeddings[track], taste)
                raw = expit((score - world.consume_bias[user]) * world.consume_sharpness[user])
                count = Counter(int(world.artist_of[t]) for t in played)[
                    int(world.artist_of[track])
                ]
                time_ = float(np.around(raw * np.power(world.artist_gamma[user], count), 2))
            if rng.random() > time_:
                budget -= 1
            played.append(track)
    return episodes / (time.perf_counter() - started)


def in_process(world: World, agent, episodes: int, seed: int) -> float:
    """Episodes per second of ``agent``, planning the sessions included."""
    started = time.perf_counter()
    starts = plan_sessions(world, episodes, seed)
    run_episodes(world, agent, starts)
    return episodes / (time.perf_counter() - started)


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its live children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


_REMOTE: tuple[World, str] | None = None


def _remote_chunk(starts) -> tuple[float, int, int]:
    world, url = _REMOTE
    cpu = time.process_time()
    agent = RemoteAgent(world, url)
    results = run_episodes(world, agent, starts)
    agent.close()
    return time.process_time() - cpu, int(results.steps.sum()) + len(results), len(results)


def remote(
    world: World,
    world_dir: Path,
    episodes: int,
    processes: int,
    url: str,
    serve_pid: int,
    client: redis.Redis,
) -> dict[str, float]:
    """Episodes per second against the service, and CPU per request of client and server."""
    global _REMOTE
    _REMOTE = (world, url)
    starts = plan_sessions(world, episodes, 100 + processes)
    chunks = [starts[i::processes] for i in range(processes)]
    server_before = _tree_cpu(serve_pid) + _redis_cpu(client)
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_remote_chunk, chunks)
    seconds = time.perf_counter() - started
    server_cpu = _tree_cpu(serve_pid) + _redis_cpu(client) - server_before
    client_cpu = sum(p[0] for p in parts)
    requests_made = sum(p[1] for p in parts)
    return {
        "episodes_per_s": episodes / seconds,
        "requests_per_s": requests_made / seconds,
        "client_ms_per_request": 1000 * client_cpu / requests_made,
        "server_ms_per_request": 1000 * server_cpu / requests_made,
    }


def start_service(tmp: Path, world_dir: Path, redis_url: str) -> tuple[subprocess.Popen, str]:
    """``botify serve`` with 2 gevent workers on the world's catalog."""
    workdir = tmp / "serve"
    workdir.mkdir()
    (workdir / "config.json").write_text(
        json.dumps(
            {
                "REDIS_URL": redis_url,
                "TRACKS_CATALOG": str(world_dir / "tracks.jsonl"),
                "DATA_LOG_FILE": "log/data.jsonl",
                "RECOMMENDERS": {
                    "random": {"type": "random"},
                    "sticky_artist": {"type": "sticky_artist"},
                },
                "EXPERIMENTS": {"ALL": ["random", "sticky_artist"]},
                "ACTIVE_EXPERIMENT": "ALL",
            }
        )
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_") and k != "REDIS_URL"}
    botify = Path(sys.executable).with_name("botify")
    process = subprocess.Popen(
        [str(botify), "serve", "--port", str(port), "--workers", "2"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/", timeout=1).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("botify serve did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=3000, help="in-process random episodes")
    parser.add_argument("--oracle-episodes", type=int, default=1000)
    parser.add_argument("--baseline-episodes", type=int, default=200)
    parser.add_argument("--remote-episodes", type=int, default=300)
    parser.add_argument("--skip-remote", action="store_true")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        world = generate_world(0, args.tracks, args.users)
        save_world(world, tmp / "world")
        generate_s = time.perf_counter() - started
        world = load_world(tmp / "world")
        world.track_index(0)  # build the id index before the remote runs fork
        print(f"world: {world.n_tracks} tracks, {world.n_artists} artists, {world.n_users} users")
        met = generate_s < GENERATE_TARGET_S
        ok &= met
        print(
            f"generate + write:       {generate_s:8.2f} s   (target < {GENERATE_TARGET_S:.0f} s)"
            f" {'ok' if met else 'MISSED'}"
        )
        with single_threaded_blas():
            baseline = naive_random_episodes(world, args.baseline_episodes, 1)
            random_rate = in_process(world, RandomAgent(world.n_tracks, 1), args.episodes, 2)
            oracle_rate = in_process(world, OracleAgent(world), args.oracle_episodes, 3)
        print(f"baseline (plain loop):  {baseline:8.0f} episodes/s")
        met = random_rate >= RANDOM_TARGET
        ok &= met
        print(
            f"in-process random:      {random_rate:8.0f} episodes/s  "
            f"({random_rate / baseline:.0f}x "
            f"baseline; target >= {RANDOM_TARGET:.0f}) {'ok' if met else 'MISSED'}"
        )
        met = oracle_rate >= ORACLE_TARGET
        ok &= met
        print(
            f"in-process oracle:      {oracle_rate:8.0f} episodes/s  "
            f"({oracle_rate / baseline:.1f}x "
            f"baseline; target >= {ORACLE_TARGET:.0f}) {'ok' if met else 'MISSED'}"
        )
        if args.skip_remote:
            return 0 if ok else 1
        with EmbeddedRedis() as server:
            client = redis.Redis.from_url(server.url)
            process, url = start_service(tmp, tmp / "world", server.url)
            try:
                remote(world, tmp / "world", 20, 1, url, process.pid, client)  # warm-up
                for processes in (1, 2):
                    r = remote(
                        world,
                        tmp / "world",
                        args.remote_episodes,
                        processes,
                        url,
                        process.pid,
                        client,
                    )
                    share = r["client_ms_per_request"] / r["server_ms_per_request"]
                    line = (
                        f"remote, {processes} process(es): {r['episodes_per_s']:6.1f} episodes/s, "
                        f"{r['requests_per_s']:6.0f} requests/s; CPU per request: client "
                        f"{r['client_ms_per_request']:.2f} ms, "
                        f"server {r['server_ms_per_request']:.2f} ms "
                        f"({share:.0%})"
                    )
                    if processes == 2:
                        met = share <= CLIENT_SHARE_TARGET
                        ok &= met
                        line += (
                            f" (target <= {CLIENT_SHARE_TARGET:.0%}) {'ok' if met else 'MISSED'}"
                        )
                    print(line)
            finally:
                process.terminate()
                process.wait(timeout=30)
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
