"""``python -m sim.calibrate``: Random, StickyArtist and the oracle on the same sessions.

The world is calibrated so that, as in the course, Random gives about 5 to 7 tracks per session,
StickyArtist clearly more, and the oracle at least 4 times Random's session time. "Tracks" counts
every track of a session as the A/B analysis does (the first one too: steps + 1); session time is
1.0 for the first track plus the times of the recommended ones. All three agents play the same
sessions (common random numbers).

    python -m sim.calibrate          # the default world: seed 0, 50,000 tracks, 10,000 users
    python -m sim.calibrate --world worlds/default --episodes 1000 --seed 1
"""

from __future__ import annotations

import argparse
import sys
import time

from sim.agents import OracleAgent, RandomAgent, StickyArtistAgent
from sim.envs.session import plan_sessions
from sim.errors import SimError
from sim.rollout import run_episodes
from sim.threads import single_threaded_blas
from sim.world import World, generate_world, load_world

# (lowest, highest) mean tracks per session of Random; the oracle's minimum ratio to Random.
RANDOM_TRACKS = (5.0, 7.0)
ORACLE_RATIO = 4.0


def calibration_table(world: World, episodes: int = 1000, seed: int = 1) -> list[dict]:
    """Play Random, StickyArtist and the oracle on the same ``episodes`` sessions.

    Returns:
        One row per agent: ``agent``, ``tracks`` (mean per session, first track included),
        ``tracks_sem``, ``time`` (mean session time), ``time_sem``, ``ratio`` (time / Random's),
        ``episodes_per_s``.
    """
    starts = plan_sessions(world, episodes, seed)
    rows = []
    agents = (
        ("Random", RandomAgent(world.n_tracks, seed)),
        ("StickyArtist", StickyArtistAgent(world, seed)),
        ("oracle", OracleAgent(world)),
    )
    with single_threaded_blas():
        for name, agent in agents:
            started = time.perf_counter()
            results = run_episodes(world, agent, starts)
            seconds = time.perf_counter() - started
            s = results.summary()
            rows.append(
                {
                    "agent": name,
                    "tracks": s["steps_mean"] + 1,
                    "tracks_sem": s["steps_sem"],
                    "time": s["reward_mean"],
                    "time_sem": s["reward_sem"],
                    "episodes_per_s": episodes / seconds,
                }
            )
    for row in rows:
        row["ratio"] = row["time"] / rows[0]["time"]
    return rows


def checks(rows: list[dict]) -> list[tuple[str, bool]]:
    """The calibration targets and whether ``rows`` meet them."""
    random, sticky, oracle = rows
    low, high = RANDOM_TRACKS
    return [
        (f"Random gives {low:g} to {high:g} tracks per session", low <= random["tracks"] <= high),
        (
            "StickyArtist clearly beats Random (session time, > 4 standard errors)",
            sticky["time"] - random["time"] > 4 * (sticky["time_sem"] + random["time_sem"]),
        ),
        (
            f"the oracle reaches {ORACLE_RATIO:g}x Random's session time",
            oracle["ratio"] >= ORACLE_RATIO,
        ),
    ]


def format_table(rows: list[dict]) -> str:
    """The table as Markdown (the README shows it)."""
    lines = [
        "| agent | tracks per session | session time | × Random |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['agent']} | {row['tracks']:.2f} ± {row['tracks_sem']:.2f} "
            f"| {row['time']:.2f} ± {row['time_sem']:.2f} | {row['ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the calibration table; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(
        prog="python -m sim.calibrate",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--world", help="a world directory (default: generate one in memory)")
    parser.add_argument("--world-seed", type=int, default=0, help="seed of the generated world")
    parser.add_argument("--tracks", type=int, default=50_000, help="tracks of the generated world")
    parser.add_argument("--users", type=int, default=10_000, help="users of the generated world")
    parser.add_argument("--episodes", type=int, default=1000, help="sessions per agent (1000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sessions (1)")
    args = parser.parse_args(argv)
    try:
        if args.world:
            world = load_world(args.world)
            where = args.world
        else:
            world = generate_world(args.world_seed, args.tracks, args.users)
            where = f"generated (seed {args.world_seed})"
    except SimError as exc:
        print(f"sim.calibrate: error: {exc}", file=sys.stderr)
        return 2
    rows = calibration_table(world, args.episodes, args.seed)
    print(
        f"world {where}: {world.n_tracks} tracks, {world.n_artists} artists, "
        f"{world.n_users} users; {args.episodes} sessions per agent, seed {args.seed}\n"
    )
    print(format_table(rows))
    print()
    ok = True
    for text, met in checks(rows):
        print(f"{'ok  ' if met else 'MISS'} {text}")
        ok = ok and met
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
