"""HTTP errors at the edge: every failure answers JSON ``{"message": ...}``, never a stack trace."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import redis

from botify.errors import DataError, StoreUnavailable
from botify.service.catalog_reload import CatalogUnavailable
from botify.service.event_log import EventLogUnavailable
from botify.service.schema import InvalidRequest

log = logging.getLogger("botify.service")


def unavailable_message(exc: BaseException) -> str:
    """The 503 message for a Redis failure."""
    return f"the service's Redis is unreachable ({type(exc).__name__}: {exc}); retry later"


class _Throttle:
    """Lets a message through at most once per ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._next = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.seconds
        return True


_redis_warning = _Throttle(5.0)


def json_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Answer the package's exceptions raised by a resource method with JSON HTTP errors.

    ``InvalidRequest`` -> its status (4xx); Redis failures -> 503 (one warning line in the server
    log every few seconds, no traceback); an empty catalog -> 503. Anything else propagates to
    flask-restful, which answers a JSON 500 and logs the traceback.
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except InvalidRequest as exc:
            return {"message": exc.message}, exc.status
        except (redis.RedisError, StoreUnavailable) as exc:
            if _redis_warning.ready():
                log.warning("Redis unreachable, answering 503: %s", exc)
            return {"message": unavailable_message(exc)}, 503
        except (DataError, EventLogUnavailable, CatalogUnavailable) as exc:
            return {"message": str(exc)}, 503

    return wrapper
