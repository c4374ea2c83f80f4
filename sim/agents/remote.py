"""The remote agent: plays sessions against the botify service over HTTP (the course protocol).

A session of ``s`` steps makes ``s`` requests to ``POST /next/<user>``, the first carrying the first
track with time 1.0 and each later one the track just played and its time, then one
``POST /last/<user>`` with the last track: ``s`` ``next`` events and one ``last`` event in the log.
One keep-alive connection per agent (``requests.Session``), with connect and read timeouts; any
failure becomes a :class:`~sim.errors.SimError` that says what went wrong, never a traceback.
"""

from __future__ import annotations

import orjson
import requests
from requests.adapters import HTTPAdapter

from sim.agents.base import AgentBase
from sim.envs.session import Session
from sim.errors import SimError
from sim.world.model import World

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class RemoteAgent(AgentBase):
    """Asks the botify service for every recommendation.

    Args:
        world: the world (the service's catalog must hold its tracks).
        url: base URL of the service, e.g. ``http://localhost:5001``.
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait for an answer.
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
        self.timeout = (connect_timeout, read_timeout)
        self.http = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.http.headers.update(_HEADERS)

    def _post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        url = f"{self.url}{path}"
        try:
            response = self.http.post(url, data=orjson.dumps(body), timeout=self.timeout)
        except requests.Timeout:
            raise SimError(
                f"the botify service at {self.url} did not answer POST {path} within "
                f"{self.timeout[1]:g} s"
            ) from None
        except requests.ConnectionError:
            raise SimError(
                f"cannot reach the botify service at {self.url} (POST {path}): is it running? "
                "start it with `botify serve`, or pass --url"
            ) from None
        except requests.RequestException as exc:
            raise SimError(f"POST {url} failed: {exc}") from None
        if response.status_code != 200:
            raise SimError(
                f"the botify service answered {response.status_code} to POST {path} "
                f"{body}: {response.text.strip()[:300]}"
            )
        try:
            answer = orjson.loads(response.content)
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
        try:
            response = self.http.get(f"{self.url}/", timeout=self.timeout)
        except requests.RequestException:
            raise SimError(
                f"cannot reach the botify service at {self.url}: is it running? "
                "start it with `botify serve`, or pass --url"
            ) from None
        if response.status_code != 200:
            raise SimError(
                f"the botify service at {self.url} answered {response.status_code} to GET /"
            )

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
