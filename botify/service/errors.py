"""HTTP errors at the edge: every failure answers JSON ``{"message": ...}``, never a stack trace."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import redis
from flask_restful import abort

from botify.errors import DataError, StoreUnavailable
from botify.service.schema import InvalidRequest

log = logging.getLogger("botify.service")


def unavailable_message(exc: BaseException) -> str:
    """The 503 message for a Redis failure."""
    return f"the service's Redis is unreachable ({type(exc).__name__}: {exc}); retry later"


def json_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the package's exceptions raised by a resource method into JSON HTTP errors.

    ``InvalidRequest`` -> its status (4xx); Redis failures -> 503; an empty catalog -> 503;
    anything unexpected -> 500 with a generic message (the traceback goes to the server's log).
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except InvalidRequest as exc:
            abort(exc.status, message=exc.message)
        except (redis.RedisError, StoreUnavailable) as exc:
            abort(503, message=unavailable_message(exc))
        except DataError as exc:
            abort(503, message=str(exc))

    return wrapper
