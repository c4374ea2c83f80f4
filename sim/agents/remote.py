"""The remote agent: plays sessions against the botify service over HTTP (the course protocol).

A session of ``s`` steps makes ``s`` requests to ``POST /next/<user>``, the first carrying the first
track with time 1.0 and each later one the track just played and its time, then one
``POST /last/<user>`` with the last track: ``s`` ``next`` events and one ``last`` event in the log.
One keep-alive connection per agent (:mod:`sim.agents.http`), with connect and read timeouts; any
failure becomes a :class:`~sim.errors.SimError` that says what went wrong, never a traceback.
"""

from __future__ import annotations

import orjson

from sim.agents.base import AgentBase
from sim.agents.http import HTTPFailure, KeepAliveClient
from sim.envs.session import Session
from sim.errors import SimError
from sim.world.model import World


class RemoteAgent(AgentBase):
    """Asks the botify service for every recommendation.

    Args:
        world: the world (the service's catalog must hold its tracks).
        url: base URL of the service, e.g. ``http://localhost:5001``.
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait for an answer.

    Raises:
        SimError: ``url`` is not an http(s) URL.
    """

    def __init__(
        self,
        world: World,
        url: str = "http://localhost:5001",
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.world = world
        self.url = url.rstrip("/")
        try:
            self.http = KeepAliveClient(self.url, connect_timeout, read_timeout)
        except ValueError as exc:
            raise SimError(f"--url: {exc}") from None

    def _request(self, method: str, path: str, body: dict[str, object] | None = None) -> bytes:
        try:
            status, data = self.http.request(
                method, path, None if body is None else orjson.dumps(body)
            )
        except HTTPFailure as exc:
            if exc.kind == "timeout":
                raise SimError(
                    f"the botify service at {self.url} did not answer {method} {path}: {exc}"
                ) from None
            raise SimError(
                f"cannot reach the botify service at {self.url} ({method} {path}: {exc}): is it "
                "running? start it with `botify serve`, or pass --url"
            ) from None
        if status != 200:
            shown = "" if body is None else f" {orjson.dumps(body).decode()}"
            raise SimError(
                f"the botify service answered {status} to {method} {path}{shown}: "
                f"{data.decode(errors='replace').strip()[:300]}"
            )
        return data

    def _post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        try:
            answer = orjson.loads(self._request("POST", path, body))
        except orjson.JSONDecodeError:
            raise SimError(f"the botify service answered POST {path} with non-JSON") from None
        if not isinstance(answer, dict):
            raise SimError(f"the botify service answered POST {path} with {answer!r}")
        return answer

    def check(self) -> None:
        """Make sure the service answers ``GET /`` (a clear error before any episode runs).

        Raises:
            SimError: it does not.
        """
        self._request("GET", "/")

    def recommend(self, session: Session) -> int:
        """``POST /next/<user>`` with the track just played; the service's answer."""
        answer = self._post(
            f"/next/{session.user_id}",
            {"track": int(self.world.track_ids[session.last_track]), "time": session.last_time},
        )
        track = answer.get("track")
        if not isinstance(track, int) or isinstance(track, bool):
            raise SimError(f"the botify service answered /next/{session.user_id} with {answer!r}")
        try:
            return self.world.track_index(track)
        except SimError:
            raise SimError(
                f"the botify service recommended track {track}, which is not in the world: is its "
                "catalog (TRACKS_CATALOG) the world's tracks.jsonl?"
            ) from None

    def finish(self, session: Session) -> None:
        """``POST /last/<user>`` with the session's last track."""
        self._post(
            f"/last/{session.user_id}",
            {"track": int(self.world.track_ids[session.last_track]), "time": session.last_time},
        )

    def close(self) -> None:
        """Close the connection."""
        self.http.close()

    def __enter__(self) -> RemoteAgent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
