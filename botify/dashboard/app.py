"""The dashboard's web app: the page (static files shipped in the package) and its JSON."""

from __future__ import annotations

import logging
import threading
import time

import orjson
from flask import Flask, Response, request

from botify.dashboard.state import Dashboard

log = logging.getLogger("botify.dashboard")

REFRESH_S = 2.0
"""Seconds between two looks at the logs (the page polls at the same pace)."""


def create_app(dashboard: Dashboard, refresh_s: float = REFRESH_S) -> Flask:
    """The Flask app serving ``dashboard``: ``/`` (the page), ``/api/state`` and ``/health``."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")

    @app.get("/")
    def index():
        return app.send_static_file("index.html")

    @app.get("/api/state")
    def state():
        data = dashboard.snapshot(request.args.get("experiment") or None)
        data["refresh_interval"] = refresh_s
        return Response(
            orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
            mimetype="application/json",
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/health")
    def health():
        return {"refreshes": dashboard.refreshes, "pending": dashboard.pending}

    return app


class Refresher(threading.Thread):
    """Looks at the logs every ``interval`` seconds, in the background."""

    def __init__(self, dashboard: Dashboard, interval: float = REFRESH_S) -> None:
        super().__init__(name="dashboard-refresh", daemon=True)
        self.dashboard = dashboard
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            began = time.monotonic()
            try:
                self.dashboard.refresh()
            except Exception:  # a live page outlives one bad look; the next one retries
                log.exception("refreshing the dashboard failed")
            self.stopped.wait(max(0.1, self.interval - (time.monotonic() - began)))

    def stop(self) -> None:
        self.stopped.set()
