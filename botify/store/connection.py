"""One Redis connection pool per process, with health checks, timeouts and one immediate retry.

A URL with ``cluster=1`` in its query (``redis://:PASSWORD@HOST:PORT/0?cluster=1``) names a Redis
Cluster by one of its nodes: the client finds the others and routes each key to the node holding its
slot. Every key family of the project carries a hash tag (the part in braces) so that what one load
or one session reads and writes together lives on one node.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from botify.errors import ConfigError, StoreUnavailable
from botify.store.redis_server import advertised_url

# Short timeouts: when Redis is down a request must fail in well under a second, not hang.
SOCKET_TIMEOUT = 0.5
CONNECT_TIMEOUT = 0.2
HEALTH_CHECK_INTERVAL = 10
# One retry, at once: it covers a pooled connection that Redis closed (a restart) by reconnecting.
# No backoff sleep: redis.retry calls the ``time.sleep`` it imported in the gunicorn master, before
# gevent patched the worker, so a backoff would block the whole worker (every greenlet) while Redis
# is down, instead of just the request. redis-py nests this retry (the command's around the
# connect's), so each extra retry would multiply the connection attempts of a failing request.
RETRIES = 1
# The query parameter that marks a cluster URL, and the values that turn it on or off.
CLUSTER_FLAG = "cluster"
_ON = ("1", "true", "yes")
_OFF = ("0", "false", "no")

Client = redis.Redis | RedisCluster
_clients: dict[str, Client] = {}


def resolve_redis_url(config: Mapping[str, Any] | None = None) -> str:
    """The Redis to use: the configured ``REDIS_URL``, else the one ``botify serve`` advertises.

    Raises:
        StoreUnavailable: neither is available.
    """
    url = (config or {}).get("REDIS_URL")
    if not url:
        url = os.environ.get("REDIS_URL") or advertised_url()
    if not url:
        raise StoreUnavailable(
            "no Redis to talk to: start `botify serve` (it runs its own Redis) or set REDIS_URL"
        )
    return str(url)


def split_cluster_flag(url: str) -> tuple[str, bool]:
    """``url`` without its ``cluster`` query parameter, and whether that parameter was on.

    Raises:
        ConfigError: the parameter has a value other than 1/true/yes or 0/false/no.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    flags = [value.lower() for name, value in query if name == CLUSTER_FLAG]
    if not flags:
        return url, False
    if any(flag not in _ON + _OFF for flag in flags):
        raise ConfigError(f"REDIS_URL: {CLUSTER_FLAG}= takes 1/true/yes or 0/false/no, "
                          f"got {flags[-1]!r}")
    rest = urlencode([(name, value) for name, value in query if name != CLUSTER_FLAG])
    return urlunsplit(parts._replace(query=rest)), flags[-1] in _ON


def is_cluster(client: Client) -> bool:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def connect(url: str) -> Client:
    """The process-wide client for ``url`` (created on first use).

    Args:
        url: a ``redis://`` URL; with ``?cluster=1``, a node of a Redis Cluster.

    Returns:
        A ``redis.Redis`` over a shared pool, or a ``RedisCluster`` for a cluster URL; responses
        are bytes.
    """
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = open_client(url)
    return client


def open_client(url: str, socket_timeout: float = SOCKET_TIMEOUT) -> Client:
    """A new client of its own for ``url`` (see :func:`connect`), to be closed by the caller.

    Raises:
        ConfigError: the URL's ``cluster`` flag is malformed.
    """
    plain, cluster = split_cluster_flag(url)
    options = dict(
        socket_timeout=socket_timeout,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=HEALTH_CHECK_INTERVAL,
        retry=Retry(NoBackoff(), retries=RETRIES),
    )
    if cluster:
        # A command whose node is down is tried once more, after the client has asked the other
        # nodes for the topology; the slots of the nodes that are up keep being served.
        return RedisCluster.from_url(plain, require_full_coverage=False, **options)
    return redis.Redis.from_url(
        plain, retry_on_error=[redis.ConnectionError, redis.TimeoutError], **options
    )


def key_count(client: Client) -> int:
    """How many keys ``client``'s database holds (on a cluster, summed over the masters)."""
    if is_cluster(client):
        return int(client.dbsize(target_nodes=RedisCluster.PRIMARIES))  # summed by redis-py
    return int(client.dbsize())
