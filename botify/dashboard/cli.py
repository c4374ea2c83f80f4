"""``botify dashboard --logs DIR``: serve the live page of a running experiment."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from botify.analysis.analyze import ALPHA
from botify.experiments import CONTROL


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``dashboard`` subcommand."""
    parser = subparsers.add_parser(
        "dashboard",
        help="a live web page of a running experiment, following its event log",
        description="Follow the event logs under --logs as they grow and serve a page of the "
        "experiment: users, sessions and events per treatment, mean time per session with its "
        "interval against the control, the SRM check, session time over time, request latency "
        "per recommender; the numbers of `botify analyze` on the same events.",
    )
    parser.add_argument("--logs", required=True, type=Path, help="the log directory (or OUT/logs)")
    parser.add_argument(
        "--experiment", help="the experiment (default: the one of the newest events)"
    )
    parser.add_argument("--control", default=CONTROL, help="the control treatment (default C)")
    parser.add_argument("--alpha", type=float, default=ALPHA, help="significance level")
    parser.add_argument(
        "--config", type=Path,
        help="the config whose EXPERIMENTS give the configured split of the SRM check "
        "(default: the one botify analyze reads)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8050, help="port (0: a free one)")
    parser.add_argument("--refresh", type=float, default=2.0, help="seconds between looks")
    parser.set_defaults(func=run_dashboard)


def _configured_from(path: Path | None):
    from botify.config import load_config
    from botify.errors import BotifyError

    def configured(experiment: str) -> list[str] | None:
        try:
            recommenders = load_config(path).get("EXPERIMENTS", {}).get(experiment)
        except BotifyError:
            return None
        return list(recommenders) if isinstance(recommenders, list) and recommenders else None

    return configured


def run_dashboard(args: argparse.Namespace) -> int:
    """Handler of ``botify dashboard``."""
    from werkzeug.serving import make_server

    from botify.dashboard.app import Refresher, create_app
    from botify.dashboard.state import Dashboard
    from botify.errors import DataError

    if not 0 < args.alpha < 1:
        raise DataError(f"--alpha must be between 0 and 1, not {args.alpha}")
    if args.refresh <= 0:
        raise DataError("--refresh must be positive")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per poll of the page
    dashboard = Dashboard(
        args.logs, args.experiment, control=args.control, alpha=args.alpha,
        configured=_configured_from(args.config),
    )
    server = make_server(args.host, args.port, create_app(dashboard, args.refresh), threaded=True)
    refresher = Refresher(dashboard, args.refresh)
    refresher.start()
    print(f"botify dashboard at http://{args.host}:{server.server_port}/ "
          f"(following {args.logs})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        refresher.stop()
        server.server_close()
    return 0
