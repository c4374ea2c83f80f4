"""``python -m sim.world --seed S --tracks N --users M --out DIR``: generate a world directory."""

from __future__ import annotations

import argparse
import sys
import time

from sim.errors import SimError
from sim.world.files import save_world
from sim.world.generate import generate_world


def main(argv: list[str] | None = None) -> int:
    """Generate a world and write it; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m sim.world", description=__doc__)
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--tracks", type=int, default=50_000, help="number of tracks")
    parser.add_argument("--users", type=int, default=10_000, help="number of users")
    parser.add_argument("--out", required=True, help="output directory")
    args = parser.parse_args(argv)
    if args.tracks < 1 or args.users < 1:
        parser.error("--tracks and --users must be at least 1")
    started = time.perf_counter()
    try:
        world = generate_world(args.seed, args.tracks, args.users)
        out = save_world(world, args.out)
    except (SimError, OSError) as exc:
        print(f"sim.world: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {world.n_tracks} tracks ({world.n_artists} artists), {world.n_users} users "
        f"to {out} in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
