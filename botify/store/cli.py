"""``botify load ...``: put data into the Redis the service reads; ``botify redis-cluster``, which
forms a Redis Cluster of empty servers; ``botify redis-url``, the URL of a running serve's Redis.

The ``load`` group is shared: this module adds ``load catalog FILE`` and ``load recs NAME FILE``;
other modules may add their own subcommands through :func:`load_subparsers`.
"""

from __future__ import annotations

import argparse

from botify.config import load_config

_LOAD_SUBPARSERS: argparse._SubParsersAction | None = None


def load_subparsers(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subparsers of the ``load`` command, created on first call.

    Args:
        subparsers: the top-level ``botify`` subparsers.

    Returns:
        The ``load`` group's subparsers; add a subcommand with ``add_parser(...)`` and
        ``set_defaults(func=handler)``.
    """
    global _LOAD_SUBPARSERS
    if _LOAD_SUBPARSERS is None or subparsers._name_parser_map.get("load") is None:
        load = subparsers.add_parser(
            "load",
            help="load data (catalog, recommendations) into Redis",
            description="Load data into the Redis of the service (REDIS_URL, or the one a running "
            "`botify serve` started).",
        )
        _LOAD_SUBPARSERS = load.add_subparsers(dest="what", required=True, metavar="WHAT")
    return _LOAD_SUBPARSERS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``load catalog FILE``."""
    catalog = load_subparsers(subparsers).add_parser(
        "catalog",
        help="load a tracks JSONL file as the catalog",
        description="Load a tracks JSONL file (track, artist, title, extra fields) as a new "
        "catalog version and switch to it. Loading the same file again changes nothing.",
    )
    catalog.add_argument("file", help="the tracks JSONL file")
    catalog.set_defaults(func=run_load_catalog)
    recs = load_subparsers(subparsers).add_parser(
        "recs",
        help="load a recommendation artifact (per-user, per-track or ranking JSONL, or item "
        "embeddings .npy) as NAME",
        description="Load a recommendation artifact as a new version of NAME and switch to it "
        "atomically (the recommenders of config.json refer to artifacts by NAME). A .npy file is "
        "item embeddings: a 2-D float32 array, row = track id.",
    )
    recs.add_argument("name", help="the artifact's name, e.g. multidae, ranker, top_tracks")
    recs.add_argument("file", help="the JSONL file, or the .npy of item embeddings")
    recs.set_defaults(func=run_load_recs)
    cluster = subparsers.add_parser(
        "redis-cluster",
        help="form a Redis Cluster of empty cluster-enabled redis-servers",
        description="Give each of the empty redis-servers (started with cluster-enabled yes) an "
        "even share of the slots, introduce them to each other and wait until the cluster is ok. "
        "The servers' password, if any, is read from REDIS_PASSWORD. Then point the service at "
        "any node with REDIS_URL=redis://HOST:PORT/0?cluster=1.",
    )
    cluster.add_argument("nodes", nargs="+", metavar="HOST:PORT", help="the servers, as masters")
    cluster.set_defaults(func=run_redis_cluster)
    url = subparsers.add_parser(
        "redis-url",
        help="print the URL of the Redis a running `botify serve` started",
        description="Print the URL (with its password) of the redis-server or Redis Cluster that a "
        "running `botify serve` started, for another instance to share: "
        "REDIS_URL=$(botify redis-url) botify serve --port 5002.",
    )
    url.set_defaults(func=run_redis_url)


def cli_client():
    """The Redis client for a CLI command, checked with a PING.

    Raises:
        StoreUnavailable: no Redis configured or advertised, or it does not answer.
    """
    import redis

    from botify.errors import StoreUnavailable
    from botify.store.connection import connect, resolve_redis_url
    from botify.store.redis_server import redacted

    url = resolve_redis_url(load_config())
    client = connect(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise StoreUnavailable(f"Redis at {redacted(url)} does not answer: {exc}") from None
    return client


def run_load_catalog(args: argparse.Namespace) -> int:
    """Handler of ``botify load catalog FILE``."""
    import redis

    from botify.errors import StoreUnavailable
    from botify.store.catalog import load_catalog

    client = cli_client()
    try:
        result = load_catalog(client, args.file)
    except redis.RedisError as exc:
        raise StoreUnavailable(f"Redis failed during the load: {exc}") from None
    state = "loaded" if result.changed else "unchanged, already current"
    print(
        f"catalog {args.file}: {result.tracks} tracks, {result.artists} artists, "
        f"version {result.version} ({state}) in {result.seconds:.2f} s"
    )
    return 0


def run_load_recs(args: argparse.Namespace) -> int:
    """Handler of ``botify load recs NAME FILE``."""
    import redis

    from botify.errors import StoreUnavailable
    from botify.store.artifacts import load_artifact

    client = cli_client()
    try:
        result = load_artifact(client, args.name, args.file)
    except redis.RedisError as exc:
        raise StoreUnavailable(f"Redis failed during the load: {exc}") from None
    what = "rows with a vector" if result.kind == "embeddings" else "records"
    print(
        f"{args.name} {args.file}: {result.count} {result.kind} {what}, "
        f"version {result.version} in {result.seconds:.2f} s"
    )
    return 0


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as ``(host, port)``.

    Raises:
        ConfigError: it is not HOST:PORT with a port in 1..65535.
    """
    from botify.errors import ConfigError

    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{text!r}: give a node as HOST:PORT (port 1..65535)")
    return host, int(port)


def run_redis_cluster(args: argparse.Namespace) -> int:
    """Handler of ``botify redis-cluster HOST:PORT...``."""
    import os

    from botify.store.redis_cluster import form_cluster

    addresses = [parse_address(node) for node in args.nodes]
    formed = form_cluster(addresses, os.environ.get("REDIS_PASSWORD") or None)
    host, port = addresses[0]
    state = "formed" if formed else "was formed already"
    print(f"Redis Cluster of {len(addresses)} masters {state}, ok; "
          f"REDIS_URL=redis://{host}:{port}/0?cluster=1")
    return 0


def run_redis_url(args: argparse.Namespace) -> int:
    """Handler of ``botify redis-url``."""
    from botify.errors import StoreUnavailable
    from botify.store.redis_server import advertised_url

    url = advertised_url()
    if url is None:
        raise StoreUnavailable("no running `botify serve` of this user started a Redis")
    print(url)
    return 0
