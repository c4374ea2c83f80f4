"""The ``botify`` command: subcommands are contributed by the modules that own them."""

from __future__ import annotations

import argparse
import importlib
import sys

import redis

from botify.errors import BotifyError
from sim.errors import SimError

# Each module defines ``register(subparsers)``, adding its subcommands with
# ``set_defaults(func=...)``.
COMMAND_MODULES = (
    "botify.service.cli",
    "botify.store.cli",
    "botify.training.cli",
    "botify.analysis.cli",
    "botify.tuning",
    "botify.experiment",
    "botify.checks",
    "botify.dashboard.cli",
    "botify.export",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="botify", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``botify``: user errors print a message, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (BotifyError, SimError) as exc:
        print(f"botify {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        print(f"botify {args.command}: error: Redis failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"botify {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
