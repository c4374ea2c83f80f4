"""Redis: the embedded server, the connection pool, and the data kept in it."""

from botify.store.connection import connect, resolve_redis_url
from botify.store.redis_server import EmbeddedRedis

__all__ = ["EmbeddedRedis", "connect", "resolve_redis_url"]
