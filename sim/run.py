"""``python -m sim.run``: simulate days of traffic (the course's runner, same command line).

    python -m sim.run --episodes 1000 --config config/env.yml single --recommender remote --seed 1
    python -m sim.run --episodes 1000 --config config/env.yml multi --processes 2

A day is ``--episodes`` sessions of users drawn uniformly. ``single`` runs one process and, unless
``--days D`` is given, pauses after each day so models can be retrained and loaded into the service;
``multi`` spreads each day over ``--processes`` processes. The same seed gives the same sessions in
both modes and whatever the number of processes (episodes are played in fixed chunks, each with its
own agent seed). After each day a table row shows the mean session time and steps with standard
errors; ``--summary-json FILE`` writes the same numbers for scripts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import orjson
from tqdm import tqdm

from sim.agents import (
    Agent,
    ConsoleAgent,
    OracleAgent,
    RandomAgent,
    RemoteAgent,
    StickyArtistAgent,
)
from sim.config import DEFAULT_CONFIG, SimConfig, load_sim_config
from sim.envs.session import SessionStart, plan_sessions
from sim.errors import SimError
from sim.rollout import EpisodeResults, run_episodes
from sim.threads import single_threaded_blas
from sim.world.files import load_world
from sim.world.model import World

RECOMMENDERS = ("remote", "dummy", "console", "oracle", "sticky")
DEFAULT_SEED = 31337
# Episodes are played in chunks of this size; each chunk builds its agent with its own seed, so
# results do not depend on how chunks are spread over processes.
CHUNK = 100


def day_seed(seed: int, day: int) -> np.random.SeedSequence:
    """The seed of day ``day`` (1-based) of a run seeded with ``seed``."""
    return np.random.SeedSequence([seed, day])


def make_agent(name: str, world: World, config: SimConfig, seed: int | np.random.SeedSequence):
    """Build the agent called ``name`` (one of :data:`RECOMMENDERS`).

    Raises:
        SimError: unknown name.
    """
    if name == "dummy":
        return RandomAgent(world.n_tracks, np.random.default_rng(seed))
    if name == "sticky":
        return StickyArtistAgent(world, np.random.default_rng(seed))
    if name == "oracle":
        return OracleAgent(world)
    if name == "console":
        return ConsoleAgent(world, rng=np.random.default_rng(seed))
    if name == "remote":
        return RemoteAgent(world, config.url, config.connect_timeout, config.read_timeout)
    raise SimError(f"unknown recommender {name!r} (one of {', '.join(RECOMMENDERS)})")


def _chunks(starts: Sequence[SessionStart], seed: np.random.SeedSequence) -> list[tuple]:
    seeds = seed.spawn((len(starts) + CHUNK - 1) // CHUNK)
    return [(i, starts[i * CHUNK : (i + 1) * CHUNK], seeds[i]) for i in range(len(seeds))]


class _ChunkPlayer:
    """Plays chunks; keeps one remote agent (one keep-alive connection) per process."""

    def __init__(self, world: World, config: SimConfig, name: str) -> None:
        self.world, self.config, self.name = world, config, name
        self._remote: RemoteAgent | None = None

    def agent(self, seed: np.random.SeedSequence) -> Agent:
        if self.name == "remote":
            if self._remote is None:
                self._remote = make_agent("remote", self.world, self.config, seed)
            return self._remote
        return make_agent(self.name, self.world, self.config, seed)

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
            self._remote = None

    def play(self, chunk: tuple, progress: Callable[[int], object] | None = None):
        index, starts, seed = chunk
        return index, run_episodes(self.world, self.agent(seed), starts, progress)


# The player of a multi-process worker (set by the pool's initializer, after the fork).
_WORKER: _ChunkPlayer | None = None


def _init_worker(world: World, config: SimConfig, name: str) -> None:
    global _WORKER
    # Ctrl-C reaches the whole process group: the parent stops the pool, so a worker ignores it
    # (instead of each printing a traceback).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = _ChunkPlayer(world, config, name)


def _play_in_worker(chunk: tuple) -> tuple[int, EpisodeResults]:
    assert _WORKER is not None
    return _WORKER.play(chunk)


def run_day(
    world: World,
    config: SimConfig,
    recommender: str,
    episodes: int,
    seed: np.random.SeedSequence,
    processes: int = 1,
    pool=None,
    show_progress: bool = True,
    label: str = "",
) -> EpisodeResults:
    """Play one day: ``episodes`` sessions planned from ``seed``, in chunks.

    Args:
        world: the world.
        config: the simulator settings.
        recommender: the agent's name.
        episodes: sessions in the day.
        seed: the day's seed.
        processes: number of processes (``pool`` must be given when > 1).
        pool: a multiprocessing pool initialised with :func:`_init_worker`.
        show_progress: draw a progress bar on stderr.
        label: the progress bar's label.

    Returns:
        The results, in episode order.
    """
    plan_seed, agent_seed = seed.spawn(2)
    starts = plan_sessions(world, episodes, plan_seed)
    chunks = _chunks(starts, agent_seed)
    results: list[EpisodeResults | None] = [None] * len(chunks)
    with tqdm(
        total=episodes,
        desc=label,
        unit="ep",
        file=sys.stderr,
        disable=not show_progress,
        mininterval=0.5,
        leave=False,
    ) as bar:
        if processes > 1:
            for index, part in pool.imap_unordered(_play_in_worker, chunks):
                results[index] = part
                bar.update(len(part))
        else:
            player = _ChunkPlayer(world, config, recommender)
            try:
                for chunk in chunks:
                    index, part = player.play(chunk, bar.update)
                    results[index] = part
            finally:
                player.close()
    return EpisodeResults.concat([r for r in results if r is not None])


def format_row(day: int, summary: dict[str, float], seconds: float) -> str:
    """One row of the per-day table."""
    rate = summary["episodes"] / seconds if seconds > 0 else float("inf")
    return (
        f"{day:>4} {summary['episodes']:>9} {summary['reward_mean']:>12.3f} "
        f"{summary['reward_sem']:>8.3f} {summary['steps_mean']:>10.2f} "
        f"{summary['steps_sem']:>8.2f} {rate:>8.0f}"
    )


HEADER = (
    f"{'day':>4} {'episodes':>9} {'session time':>12} {'± sem':>8} {'steps':>10} "
    f"{'± sem':>8} {'ep/s':>8}"
)


def write_summary(path: str | os.PathLike, days: list[dict[str, float]]) -> None:
    """Write ``{"days": [...]}`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(orjson.dumps({"days": days}, option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(tmp, path)


def _ask_to_continue(day: int) -> bool:
    print(
        f"day {day} done. Retrain and load new models now if you like; press Enter to simulate "
        f"day {day + 1}, or q and Enter to stop: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    line = sys.stdin.readline()
    return bool(line) and line.strip().lower() not in ("q", "quit", "exit")


def simulate(args: argparse.Namespace) -> int:
    """Run the days the arguments ask for; returns the exit code."""
    with single_threaded_blas():
        return _simulate(args)


def _simulate(args: argparse.Namespace) -> int:
    config = load_sim_config(args.config)
    world_dir = args.world or config.world
    if args.url:
        config = SimConfig(
            config.world,
            args.url,
            config.connect_timeout,
            config.read_timeout,
            config.user_defaults,
        )
    processes = getattr(args, "processes", 1)
    recommender = args.recommender
    if processes > 1 and recommender == "console":
        raise SimError("the console recommender needs a person: use single, not multi")
    world = load_world(world_dir, config.user_defaults)
    if recommender == "remote":
        with RemoteAgent(world, config.url, config.connect_timeout, config.read_timeout) as probe:
            probe.check()
    show = not args.no_progress and recommender != "console"
    print(
        f"world {world_dir}: {world.n_tracks} tracks, {world.n_users} users; recommender "
        f"{recommender}, seed {args.seed}, {processes} process(es)",
        file=sys.stderr,
    )
    days: list[dict[str, float]] = []
    pool = None
    world.track_index(int(world.track_ids[0]))  # build the id index once, before any fork
    if processes > 1:
        pool = multiprocessing.get_context("fork").Pool(
            processes, initializer=_init_worker, initargs=(world, config, recommender)
        )
    try:
        print(HEADER)
        day = args.first_day - 1
        while True:
            day += 1
            started = time.perf_counter()
            results = run_day(
                world,
                config,
                recommender,
                args.episodes,
                day_seed(args.seed, day),
                processes,
                pool,
                show,
                f"day {day}",
            )
            seconds = time.perf_counter() - started
            summary = {"day": day, **results.summary()}
            days.append(summary)
            print(format_row(day, summary, seconds), flush=True)
            if args.summary_json:
                write_summary(args.summary_json, days)
            if args.days is not None:
                if day - args.first_day + 1 >= args.days:
                    break
            elif not _ask_to_continue(day):
                break
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return 0


def _add_common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted before and after the mode (the course put some on either side)."""

    def default(value):
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--episodes", type=int, default=default(1000), help="sessions per day")
    parser.add_argument(
        "--config",
        default=default(DEFAULT_CONFIG if Path(DEFAULT_CONFIG).is_file() else None),
        help=f"simulator settings (default {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--recommender",
        choices=RECOMMENDERS,
        default=default("remote"),
        help="who recommends: the service (remote), random (dummy), a person (console), the "
        "in-process ceiling (oracle), or in-process StickyArtist (sticky)",
    )
    parser.add_argument("--seed", type=int, default=default(DEFAULT_SEED), help="random seed")
    parser.add_argument(
        "--days",
        type=int,
        default=default(None),
        help="run this many days without asking (default: ask after each day)",
    )
    parser.add_argument(
        "--first-day",
        type=int,
        default=default(1),
        help="the number of the first day (1): days are labelled and seeded by their number",
    )
    parser.add_argument("--world", default=default(None), help="world directory")
    parser.add_argument("--url", default=default(None), help="the botify service's base URL")
    parser.add_argument(
        "--summary-json",
        default=default(None),
        metavar="FILE",
        help='write {"days": [{"day", "episodes", "reward_mean", "reward_sem", "steps_mean", '
        '"steps_sem"}, ...]} to FILE',
    )
    parser.add_argument(
        "--no-progress", action="store_true", default=default(False), help="no progress bars"
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m sim.run``."""
    parser = argparse.ArgumentParser(
        prog="python -m sim.run",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(parser, suppress=False)
    modes = parser.add_subparsers(dest="mode", required=True, metavar="MODE")
    single = modes.add_parser("single", help="one process; pauses between days")
    _add_common(single, suppress=True)
    multi = modes.add_parser("multi", help="several processes, for throughput")
    _add_common(multi, suppress=True)
    multi.add_argument("--processes", type=int, default=2, help="number of processes (2)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors print one line, not a traceback (exit 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be at least 1")
    if args.days is not None and args.days < 1:
        parser.error("--days must be at least 1")
    if args.first_day < 1:
        parser.error("--first-day must be at least 1")
    if getattr(args, "processes", 1) < 1:
        parser.error("--processes must be at least 1")
    try:
        return simulate(args)
    except (SimError, OSError) as exc:
        print(f"sim.run: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sim.run: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
