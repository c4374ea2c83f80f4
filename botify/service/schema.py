"""Request validation: the body of ``/next`` and ``/last``, and ids in URLs.

Every check raises :class:`InvalidRequest` with a message that names the field and the problem; the
resources turn it into a 4xx JSON answer ``{"message": ...}``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import orjson

from botify.store.catalog import MAX_ID

EXPECTED = 'send a JSON object {"track": int, "time": float in [0, 1]}'


class InvalidRequest(Exception):
    """A request the service refuses, with its HTTP status and a message for the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _describe(value: Any) -> str:
    """A short JSON rendering of a client's value, for error messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value, allow_nan=True)
    return text if len(text) <= 40 else text[:37] + "..."


def check_id(value: Any, field: str) -> int:
    """An id: a JSON integer (not a bool, not a float) in ``[0, 2**63 - 1]``.

    Raises:
        InvalidRequest: naming ``field``.
    """
    if type(value) is not int:
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
    value = int(text)
    if value > MAX_ID:
        raise InvalidRequest(f"{field}: must be an id in [0, 2^63-1], got {value}")
    return value


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
    def parse(cls, body: bytes) -> PlayReport:
        """Parse and check a raw request body.

        Raises:
            InvalidRequest: empty, not JSON, not an object, a missing field or a bad value.
        """
        if not body or not body.strip():
            raise InvalidRequest(f"body: missing; {EXPECTED}")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            # orjson refuses NaN and Infinity; Python's json reads them, so the message can name
            # the field that holds one instead of calling the whole body "not JSON".
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidRequest(f"body: not valid JSON ({exc}); {EXPECTED}") from None
        if not isinstance(data, dict):
            raise InvalidRequest(f"body: must be a JSON object, got {_describe(data)}; {EXPECTED}")
        if "track" not in data:
            raise InvalidRequest(f"track: missing; {EXPECTED}")
        if "time" not in data:
            raise InvalidRequest(f"time: missing; {EXPECTED}")
        track = check_id(data["track"], "track")
        time = data["time"]
        if type(time) not in (float, int):
            raise InvalidRequest(f"time: must be a number in [0, 1], got {_describe(time)}")
        if not math.isfinite(time) or not 0.0 <= time <= 1.0:
            raise InvalidRequest(f"time: must be a finite number in [0, 1], got {_describe(time)}")
        return cls(track, float(time))
