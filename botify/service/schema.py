"""Request validation: the body of ``/next`` and ``/last``, and ids in URLs.

Every check raises :class:`InvalidRequest` with a message that names the field and the problem; the
resources turn it into a 4xx JSON answer ``{"message": ...}``.

The body is read by :func:`read_body`, bounded in size (:data:`MAX_BODY_BYTES`, whether the
client sends a ``Content-Length`` or a chunked body) and, under gevent, in time
(:data:`BODY_TIMEOUT`), so a client that sends its headers and then stalls holds a connection for
seconds, not forever.
"""

from __future__ import annotations

import json
import math
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from botify.store.catalog import MAX_ID

EXPECTED = 'send a JSON object {"track": int, "time": float in [0, 1]}'

# The largest body read when the app does not set MAX_CONTENT_LENGTH; a play report is ~30 bytes.
MAX_BODY_BYTES = 64 * 1024
# Seconds a request's whole body may take to arrive (under gevent; elsewhere reads are unbounded).
BODY_TIMEOUT = 2.0
# An integer literal longer than this is no valid id or time: it is never converted (the fallback
# parser would spend time on it, and refuses more than 4,300 digits with a message about Python).
_MAX_INT_DIGITS = 40


class InvalidRequest(Exception):
    """A request the service refuses, with its HTTP status and a message for the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class _LongInt:
    """An integer literal of the body too long to be any field's value (only its length is kept)."""

    __slots__ = ("digits",)

    def __init__(self, text: str) -> None:
        self.digits = len(text.lstrip("-"))


def _parse_int(text: str) -> int | _LongInt:
    return int(text) if len(text) <= _MAX_INT_DIGITS else _LongInt(text)


def _describe(value: Any) -> str:
    """A short JSON rendering of a client's value, for error messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, _LongInt):
        return f"an integer of {value.digits} digits"
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= 40 else text[:37] + "..."


def check_id(value: Any, field: str) -> int:
    """An id: a JSON integer (not a bool, not a float) in ``[0, 2**63 - 1]``.

    Raises:
        InvalidRequest: naming ``field``.
    """
    if type(value) is not int:
        if type(value) is _LongInt:
            raise InvalidRequest(f"{field}: must be an id in [0, 2^63-1], got {_describe(value)}")
        raise InvalidRequest(f"{field}: must be an integer id, got {_describe(value)}")
    if not 0 <= value <= MAX_ID:
        raise InvalidRequest(f"{field}: must be an id in [0, 2^63-1], got {value}")
    return value


def parse_path_id(text: str, field: str) -> int:
    """An id given in the URL (``/next/<user>``, ``/track/<track>``).

    Raises:
        InvalidRequest: not a decimal integer in range, naming ``field``.
    """
    if not text.isascii() or not text.isdigit():
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InvalidRequest(f"{field}: must be a non-negative integer id, got {shown!r}")
    if len(text) > _MAX_INT_DIGITS:
        raise InvalidRequest(f"{field}: must be an id in [0, 2^63-1], got {len(text)} digits")
    value = int(text)
    if value > MAX_ID:
        raise InvalidRequest(f"{field}: must be an id in [0, 2^63-1], got {value}")
    return value


def read_body(environ: Mapping[str, Any], limit: int | None = None,
              timeout: float = BODY_TIMEOUT) -> bytes:
    """The request body, read from ``environ["wsgi.input"]``: at most ``limit`` bytes, in time.

    A ``Content-Length`` over the limit is refused before anything is read; a chunked body is read
    up to one byte past the limit, and refused when it has that byte. Under gevent (socket
    monkey-patched, as in the service's workers) the whole read must end within ``timeout``
    seconds; then the connection is not read again, so the server closes it after the answer.

    Args:
        environ: the WSGI environ.
        limit: the largest body accepted (default :data:`MAX_BODY_BYTES`).
        timeout: seconds the whole body may take to arrive.

    Raises:
        InvalidRequest: 413 over the limit; 408 too slow; 400 when the body cannot be read (broken
            chunked framing, the connection ending before ``Content-Length`` bytes).
    """
    limit = MAX_BODY_BYTES if limit is None else limit
    length = environ.get("CONTENT_LENGTH")
    if length:
        if not length.isascii() or not length.isdigit():
            raise InvalidRequest(f"Content-Length: must be a number of bytes, got {length[:40]!r}")
        declared: int | None = int(length)
        if declared > limit:
            raise InvalidRequest(
                f"body: Content-Length {declared} is over the {limit}-byte limit; {EXPECTED}", 413
            )
        wanted = declared
    elif environ.get("wsgi.input_terminated"):
        # No length (a chunked body): the server ends the stream where the body ends.
        declared = None
        wanted = limit + 1
    else:
        return b""  # no Content-Length and a stream that may not end: no body (PEP 3333)
    if not wanted:
        return b""
    deadline = _start_timeout(timeout)
    try:
        body = _read(environ["wsgi.input"], wanted)
    except Exception as exc:
        raise InvalidRequest(f"body: could not be read ({_reason(exc)}); {EXPECTED}") from None
    except BaseException as exc:
        if deadline is None or exc is not deadline:
            raise
        _stop_reading(environ)
        announced = f"of the {declared} bytes announced" if declared is not None else "(chunked)"
        raise InvalidRequest(
            f"body: not received within {timeout:g} s {announced}; send the whole body at once",
            408,
        ) from None
    finally:
        if deadline is not None:
            deadline.close()
    if declared is None:
        if len(body) > limit:
            raise InvalidRequest(f"body: over the {limit}-byte limit (chunked); {EXPECTED}", 413)
    elif len(body) < declared:
        raise InvalidRequest(
            f"body: the connection ended after {len(body)} of the {declared} bytes announced"
        )
    return body


def _read(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``, fewer only at its end."""
    data = stream.read(size)
    if len(data) >= size or not data:
        return data
    parts = [data]
    size -= len(data)
    while size > 0:
        data = stream.read(size)
        if not data:
            break
        parts.append(data)
        size -= len(data)
    return b"".join(parts)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."


def _start_timeout(seconds: float) -> Any:
    """A started ``gevent.Timeout`` when sockets are gevent's, else ``None`` (reads just block)."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("socket"):
        return None
    from gevent import Timeout

    timeout = Timeout(seconds)
    timeout.start()
    return timeout


def _stop_reading(environ: Mapping[str, Any]) -> None:
    """Shut the read side of the client's socket: the rest of the body is never waited for.

    gunicorn would otherwise drain it before the next request (for up to its keep-alive timeout)
    and gevent's own server until the client sends it all; the next read now ends the connection.
    """
    # gunicorn's own parser names the client's socket gunicorn.socket, its gevent_pywsgi worker
    # gunicorn.sock.
    sock = environ.get("gunicorn.socket") or environ.get("gunicorn.sock")
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


def _loads(body: bytes) -> Any:
    """The JSON value of ``body``; orjson first, Python's json for what orjson refuses.

    orjson refuses NaN and Infinity, and integers too large for a double; Python's json reads
    them, so the message can name the field that holds one instead of calling the body "not JSON".
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body, parse_int=_parse_int)
    except RecursionError:
        raise InvalidRequest(
            f"body: JSON nested too deeply (a play report is one flat object); {EXPECTED}"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"body: not valid JSON ({_reason(exc)}); {EXPECTED}") from None


@dataclass(frozen=True, slots=True)
class PlayReport:
    """The body of ``/next`` and ``/last``: the track just played and the fraction listened.

    Attributes:
        track: the track id.
        time: the listened fraction, in ``[0, 1]``.
    """

    track: int
    time: float

    @classmethod
    def from_request(cls, request: Any) -> PlayReport:
        """Read (see :func:`read_body`) and parse the body of a Flask request.

        Raises:
            InvalidRequest: see :func:`read_body` and :meth:`parse`.
        """
        return cls.parse(read_body(request.environ, request.max_content_length))

    @classmethod
    def parse(cls, body: bytes) -> PlayReport:
        """Parse and check a raw request body.

        Raises:
            InvalidRequest: empty, not JSON, not an object, a missing field or a bad value.
        """
        if not body or not body.strip():
            raise InvalidRequest(f"body: missing; {EXPECTED}")
        data = _loads(body)
        if not isinstance(data, dict):
            raise InvalidRequest(f"body: must be a JSON object, got {_describe(data)}; {EXPECTED}")
        if "track" not in data:
            raise InvalidRequest(f"track: missing; {EXPECTED}")
        if "time" not in data:
            raise InvalidRequest(f"time: missing; {EXPECTED}")
        track = check_id(data["track"], "track")
        time = data["time"]
        kind = type(time)
        if kind is float:
            valid = math.isfinite(time) and 0.0 <= time <= 1.0
        elif kind is int:
            valid = 0 <= time <= 1  # compared as an int: a huge one cannot become a float
        elif kind is _LongInt:
            valid = False
        else:
            raise InvalidRequest(f"time: must be a number in [0, 1], got {_describe(time)}")
        if not valid:
            raise InvalidRequest(f"time: must be a finite number in [0, 1], got {_describe(time)}")
        return cls(track, float(time))
