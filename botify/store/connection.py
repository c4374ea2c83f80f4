"""One Redis connection pool per process, with health checks, timeouts and one immediate retry."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from botify.errors import StoreUnavailable
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

_clients: dict[str, redis.Redis] = {}


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


def connect(url: str) -> redis.Redis:
    """The process-wide client for ``url`` (created on first use).

    Args:
        url: a ``redis://`` URL.

    Returns:
        A ``redis.Redis`` over a shared pool; responses are bytes (values are JSON).
    """
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=CONNECT_TIMEOUT,
            health_check_interval=HEALTH_CHECK_INTERVAL,
            retry=Retry(NoBackoff(), retries=RETRIES),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        _clients[url] = client
    return client
