"""``botify serve``: the HTTP service under gunicorn (gevent workers)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``serve``."""
    serve = subparsers.add_parser(
        "serve",
        help="run the HTTP service",
        description="Run the botify HTTP service under gunicorn with gevent workers. Uses "
        "REDIS_URL when configured, else starts its own redis-server (stopped with the "
        "service). Loads TRACKS_CATALOG and ARTIFACTS at startup.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=5001, help="port to listen on (5001)")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (2)")
    serve.add_argument("--redis-cluster", type=int, default=0, metavar="MASTERS",
                       help="without REDIS_URL: start its own Redis Cluster of MASTERS masters "
                       "instead of one redis-server")
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Handler of ``botify serve``."""
    if not 0 < args.port < 65536:
        from botify.errors import ConfigError

        raise ConfigError(f"--port must be in 1..65535, got {args.port}")
    if args.workers < 1:
        from botify.errors import ConfigError

        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    from botify.store.redis_cluster import check_masters

    check_masters(args.redis_cluster)
    _check_port_free(args.host, args.port)
    return serve(args.host, args.port, args.workers, redis_cluster=args.redis_cluster)


def _check_port_free(host: str, port: int) -> None:
    """Fail at once with a clear message when the address is taken (gunicorn retries for 5 s)."""
    import socket

    from botify.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(f"--host {host}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}); is another server running "
                "there? pick another --port"
            ) from None


def serve(
    host: str = "127.0.0.1",
    port: int = 5001,
    workers: int = 2,
    log: Callable[[str], None] | None = None,
    redis_cluster: int = 0,
) -> int:
    """Prepare Redis and the data, then run gunicorn until it is stopped.

    Args:
        host: address to listen on.
        port: port to listen on.
        workers: number of gevent worker processes.
        log: receives progress lines (default: stderr).
        redis_cluster: without ``REDIS_URL``, start a Redis Cluster of this many masters instead
            of one redis-server (0).

    Returns:
        gunicorn's exit status.

    Raises:
        StoreUnavailable: the configured Redis does not answer.
        ConfigError, DataError: bad configuration or data files.
    """
    say = log or (lambda line: print(f"botify serve: {line}", file=sys.stderr, flush=True))
    # A SIGTERM before gunicorn takes over the signals must still stop our redis-server.
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    master = os.getpid()
    embedded = None
    what = f"Redis Cluster of {redis_cluster} masters" if redis_cluster else "redis-server"
    try:
        from botify.service import gunicorn_conf

        # Before the app, and so prometheus_client, is imported: the workers inherit it.
        metrics_dir = gunicorn_conf.start_metrics_dir()
        from botify.config import load_config
        from botify.store.redis_cluster import embedded_store
        from botify.store.redis_server import redacted

        config = load_config()
        overrides = {}
        if not config.get("REDIS_URL"):
            embedded = embedded_store(redis_cluster, advertise=True).start()
            overrides["REDIS_URL"] = embedded.url
            say(f"started its own {what} at {redacted(embedded.url)} "
                "(set REDIS_URL to use another)")
        elif redis_cluster:
            say("REDIS_URL is set: --redis-cluster is not used (add ?cluster=1 to the URL of a "
                "cluster)")
        config.update(overrides)
        from botify.service.startup import prepare

        prepare(config, say)
        # Imported once here, so every forked worker has it already.
        import botify.service.app  # noqa: F401
        from botify.service.server import BotifyServer

        say(f"listening on http://{host}:{port} with {workers} gevent worker(s)")
        if metrics_dir:
            say(f"metrics at /metrics, summed over the workers' files in {metrics_dir}")
        server = BotifyServer(overrides, bind=f"{host}:{port}", workers=workers)
        try:
            server.run()
        except SystemExit as exc:
            if os.getpid() != master:
                raise  # a gunicorn worker (a fork of this process) exiting
            return exc.code if isinstance(exc.code, int) else 1
        return 0
    finally:
        # gunicorn's workers are forks of this process and unwind through here when they exit;
        # only the master owns the redis-server.
        if os.getpid() == master:
            signal.signal(signal.SIGTERM, previous)
            from botify.service import gunicorn_conf

            gunicorn_conf.remove_metrics_dir()
        if embedded is not None and os.getpid() == master:
            embedded.stop()
            say(f"stopped its {what}")


def _raise_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """``python -m botify.service.cli [serve options]``: serve without the rest of the CLI."""
    from botify.errors import BotifyError

    parser = argparse.ArgumentParser(prog="botify")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except BotifyError as exc:
        print(f"botify serve: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
