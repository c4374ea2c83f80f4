"""``botify check WHAT NAME``: run the contract of a plugin on synthetic data before using it.

Each module of :data:`CHECK_MODULES` adds its ``WHAT`` with ``register_check(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib

CHECK_MODULES = ("botify.recommenders.contract", "botify.training.check")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check`` command and its subcommands."""
    parser = subparsers.add_parser(
        "check",
        help="run the contract of a recommender or a model on synthetic data",
        description="Check that a plugin resolves, runs on synthetic data and produces what botify "
        "accepts. One line per check; exit status 0 if all pass, 2 otherwise.",
    )
    whats = parser.add_subparsers(dest="what", required=True, metavar="WHAT")
    for name in CHECK_MODULES:
        importlib.import_module(name).register_check(whats)
