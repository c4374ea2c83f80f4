"""HTTP errors at the edge: every failure answers JSON ``{"message": ...}``, never a stack trace."""

from __future__ import annotations

import functools
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson
import redis
from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from botify.errors import DataError, StoreUnavailable
from botify.service import metrics
from botify.service.catalog_reload import CatalogUnavailable
from botify.service.event_log import EventLogUnavailable
from botify.service.schema import InvalidRequest

if TYPE_CHECKING:
    from flask_restful import Api

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
    :func:`internal_error` (a JSON 500 and one line in the server log).
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
            rule = request.url_rule
            metrics.redis_error(rule.rule if rule is not None else metrics.UNMATCHED, True)
            return {"message": unavailable_message(exc)}, 503
        except (DataError, EventLogUnavailable, CatalogUnavailable) as exc:
            return {"message": str(exc)}, 503

    return wrapper


# Everything else the app answers goes through these handlers: Flask's routing errors (404, 405), a
# werkzeug HTTPException raised anywhere, and any exception nothing else caught.

_SHOWN_PATH = 100  # characters of a request path quoted in a message


def _where() -> str:
    """``METHOD /path`` of the current request, the path cut to a readable length."""
    path = request.path
    if len(path) > _SHOWN_PATH:
        path = path[: _SHOWN_PATH - 3] + "..."
    return f"{request.method} {path}"


def _json_response(message: str, status: int, headers: Iterable[tuple[str, str]] = ()) -> Response:
    try:
        body = orjson.dumps({"message": message})
    except TypeError:  # a lone surrogate: json escapes it
        body = json.dumps({"message": message}).encode()
    response = Response(body, status=status, content_type="application/json")
    response.headers.extend(headers)
    return response


def _routes() -> str:
    """The API's routes, as ``GET /health, POST /next/<user>, ...``."""
    routes = []
    for rule in current_app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append(f"{method} {rule.rule}")
    return ", ".join(routes)


def http_error(exc: HTTPException) -> Response:
    """A werkzeug HTTP error (404, 405, 413, ...) as JSON, with its headers (``Allow``, ...)."""
    status = exc.code or 500
    if isinstance(exc, NotFound):
        message = f"{_where()}: no such resource; the API has {_routes()}"
    elif isinstance(exc, MethodNotAllowed):
        allowed = sorted(set(exc.valid_methods or ()) - {"HEAD", "OPTIONS"})
        message = f"{_where()}: method not allowed here; use {', '.join(allowed) or 'another URL'}"
    else:
        message = f"{_where()}: {exc.description or exc.name}"
    if status >= 500:
        original = getattr(exc, "original_exception", None)
        _log_unexpected(original if original is not None else exc)
    headers = [(k, v) for k, v in exc.get_headers(request.environ) if k.lower() != "content-type"]
    return _json_response(message, status, headers)


def internal_error(exc: Exception) -> Response:
    """An exception nothing else caught: a JSON 500 naming the request, one line in the log.

    An ``HTTPException`` goes to :func:`http_error` (flask-restful hands over both kinds).
    """
    if isinstance(exc, HTTPException):
        return http_error(exc)
    _log_unexpected(exc)
    return _json_response(
        f"{_where()}: internal error ({type(exc).__name__}); the server log has the details", 500
    )


def _log_unexpected(exc: BaseException) -> None:
    """One line: the request, the exception, and where it was raised (deepest frame of botify,
    and the deepest of all when that is in a library)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/botify/" in f.filename and "-packages/" not in f.filename]
    shown = ours[-1:] + [f for f in frames[-1:] if not ours or f is not ours[-1]]
    origin = ", ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in shown)
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    log.error("%s: unexpected %s: %s (at %s)", _where(), type(exc).__name__, text, origin or "?")


def _short(filename: str) -> str:
    """``botify/service/schema.py`` or ``werkzeug/wsgi.py``: the path from the package down."""
    parts = filename.replace("\\", "/").split("/")
    if "botify" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("botify"):])
    return "/".join(parts[-2:])


def register_error_handlers(app: Flask, api: Api | None = None) -> None:
    """Make every error the app answers JSON ``{"message": ...}`` (see :func:`http_error`).

    Args:
        app: the Flask app.
        api: its flask-restful ``Api``, which routes the errors of its endpoints (and, with
            ``catch_all_404s``, every 404) to its own ``handle_error`` instead of the app's
            handlers. Its own answers an exception with a ``data`` attribute (gunicorn's parse
            errors have one) with that data, and when that fails Flask answers an HTML 500; here
            it answers like the app's handlers.
    """
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, internal_error)
    if api is not None:
        api.handle_error = internal_error
