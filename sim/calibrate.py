"""``python -m sim.calibrate``: reference agents on the same sessions, against the targets.

The world is calibrated so that, as in the course, Random gives about 5 to 7 tracks per session,
StickyArtist clearly more, and the oracle at least 4 times Random's session time; and so that a
recommender can learn its way close to the oracle: an ideal item-to-item recommender (the nearest
tracks of the session's first track by the hidden embeddings, at most two per artist) reaches 70%
of the oracle's session time, and the plain nearest neighbour of the previous track clearly beats
StickyArtist. "Tracks" counts every track of a session as the A/B analysis does (the first one
too: steps + 1); session time is 1.0 for the first track plus the times of the recommended ones.
All agents play the same sessions (common random numbers).

    python -m sim.calibrate          # the default world: seed 0, 50,000 tracks, 10,000 users
    python -m sim.calibrate --world worlds/default --episodes 1000 --seed 1
"""

from __future__ import annotations

import argparse
import sys
import time

from sim.agents import OracleAgent, RandomAgent, StickyArtistAgent
from sim.agents.base import AgentBase
from sim.envs.session import Session, plan_sessions
from sim.errors import SimError
from sim.rollout import run_episodes
from sim.threads import single_threaded_blas
from sim.world import World, generate_world, load_world

# (lowest, highest) mean tracks per session of Random; the oracle's minimum ratio to Random.
RANDOM_TRACKS = (5.0, 7.0)
ORACLE_RATIO = 4.0
# The ideal item-to-item recommender's minimum share of the oracle's session time.
IDEAL_I2I_SHARE = 0.7
# A "clear" win: the difference of mean session times exceeds this many (summed) standard errors.
CLEAR_SEMS = 4.0

NEAREST_PREVIOUS = "nearest-neighbour (previous track)"
IDEAL_I2I = "nearest-neighbour (ideal i2i)"


class NearestNeighbourAgent(AgentBase):
    """The nearest unplayed track of an anchor by the world's (hidden) embeddings.

    What a perfectly learned item-to-item list would give: ``anchor="previous"`` follows the
    previous track (it drifts, and keeps to one artist while its tracks are the nearest);
    ``anchor="first"`` stays with the session's first track, the best-listened one (time 1.0),
    and with ``max_per_artist`` skips the artists already played that many times in the session
    (when every unplayed neighbour is skipped, the nearest unplayed one is played).

    Args:
        world: the world.
        anchor: ``"previous"`` or ``"first"``.
        max_per_artist: plays of an artist after which its tracks are skipped (None: no limit).
        neighbours: how many neighbours are looked at first (more when they are all used up).
    """

    def __init__(
        self,
        world: World,
        anchor: str = "previous",
        max_per_artist: int | None = None,
        neighbours: int = 200,
    ) -> None:
        if anchor not in ("previous", "first"):
            raise ValueError(f"anchor must be 'previous' or 'first', not {anchor!r}")
        self.world = world
        self.anchor_first = anchor == "first"
        self.max_per_artist = max_per_artist
        self.k = min(neighbours, world.n_tracks)

    def recommend(self, session: Session) -> int:
        """The nearest unplayed neighbour of the anchor (an allowed artist's, when there is one)."""
        anchor = session.start.first_track if self.anchor_first else session.last_track
        artist_of = self.world.artist_of
        limit = self.max_per_artist
        k = self.k
        while True:
            (near,) = self.world.nearest([anchor], k)
            unplayed = None
            for track in near.tolist():
                if track in session.played:
                    continue
                if limit is None or session.artist_plays.get(int(artist_of[track]), 0) < limit:
                    return track
                if unplayed is None:
                    unplayed = track
            if k >= self.world.n_tracks:
                return anchor if unplayed is None else unplayed
            k = min(4 * k, self.world.n_tracks)


def calibration_table(world: World, episodes: int = 1000, seed: int = 1) -> list[dict]:
    """Play the reference agents on the same ``episodes`` sessions.

    The agents: Random, StickyArtist, the nearest neighbour of the previous track, the ideal
    item-to-item recommender (see :class:`NearestNeighbourAgent`) and the oracle.

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
        (NEAREST_PREVIOUS, NearestNeighbourAgent(world, "previous")),
        (IDEAL_I2I, NearestNeighbourAgent(world, "first", max_per_artist=2)),
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
    by = {row["agent"]: row for row in rows}
    random, sticky, oracle = by["Random"], by["StickyArtist"], by["oracle"]
    previous, ideal = by[NEAREST_PREVIOUS], by[IDEAL_I2I]
    low, high = RANDOM_TRACKS

    def clearly_beats(a: dict, b: dict) -> bool:
        return a["time"] - b["time"] > CLEAR_SEMS * (a["time_sem"] + b["time_sem"])

    return [
        (f"Random gives {low:g} to {high:g} tracks per session", low <= random["tracks"] <= high),
        (
            f"StickyArtist clearly beats Random (session time, > {CLEAR_SEMS:g} standard errors)",
            clearly_beats(sticky, random),
        ),
        (
            f"the oracle reaches {ORACLE_RATIO:g}x Random's session time",
            oracle["ratio"] >= ORACLE_RATIO,
        ),
        (
            f"the nearest neighbour of the previous track clearly beats StickyArtist "
            f"(> {CLEAR_SEMS:g} standard errors)",
            clearly_beats(previous, sticky),
        ),
        (
            f"the ideal i2i reaches {IDEAL_I2I_SHARE:.0%} of the oracle's session time",
            ideal["time"] >= IDEAL_I2I_SHARE * oracle["time"],
        ),
    ]


def format_table(rows: list[dict]) -> str:
    """The table as Markdown (the README shows it)."""
    lines = [
        "| agent | tracks per session | session time | × Random | % of oracle |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    oracle = next((row["time"] for row in rows if row["agent"] == "oracle"), None)
    for row in rows:
        share = f"{row['time'] / oracle:.0%}" if oracle else "-"
        lines.append(
            f"| {row['agent']} | {row['tracks']:.2f} ± {row['tracks_sem']:.2f} "
            f"| {row['time']:.2f} ± {row['time_sem']:.2f} | {row['ratio']:.2f} | {share} |"
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
