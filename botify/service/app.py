"""The Flask application factory and the per-process service it serves from.

``create_app(config=None)`` layers the configuration (defaults, ``config.json``, ``BOTIFY_*``
environment variables, then ``config``), and binds one :class:`BotifyService` to the app: the Redis
client, the catalog, the experiments, the recommenders and the event log of this process. Nothing
touches Redis until the first request (gunicorn builds one app per worker, after the fork).
"""

from __future__ import annotations

import atexit
import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import redis
from flask import Flask, Response, make_response
from flask_restful import Api

from botify.config import load_config
from botify.events import (
    EXPERIMENTS,
    FALLBACK,
    LATENCY,
    MESSAGE,
    RECOMMENDATION,
    RECOMMENDER,
    TIME,
    TIMESTAMP,
    TRACK,
    USER,
)
from botify.experiments import Experiments
from botify.recommenders.base import RecommenderContext
from botify.recommenders.registry import build_recommenders
from botify.service import metrics
from botify.service.catalog_reload import CatalogReload
from botify.service.event_log import EventLog
from botify.service.resources import Health, Hello, LastTrack, NextTrack, Track
from botify.service.schema import MAX_BODY_BYTES, PlayReport
from botify.store.catalog import RedisCatalog
from botify.store.connection import connect, resolve_redis_url
from botify.store.sessions import end_session

log = logging.getLogger("botify.service")



class BotifyService:
    """What one process serves from.

    Args:
        config: the service configuration (see ``botify.config.DEFAULTS``).

    Raises:
        StoreUnavailable: no ``REDIS_URL`` configured and no ``botify serve`` advertises one.
        ConfigError: ``RECOMMENDERS`` or ``EXPERIMENTS`` is malformed.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.redis = connect(resolve_redis_url(config))
        self.catalog = RedisCatalog(self.redis, config.get("VERSION_CHECK_INTERVAL", 0))
        self.experiments = Experiments.from_config(config)
        self.rng = np.random.default_rng()
        self.context = RecommenderContext(self.redis, self.catalog, config, self.rng)
        self.recommenders = build_recommenders(config, self.context)
        self.event_log = EventLog(
            config["DATA_LOG_FILE"],
            max_bytes=config.get("DATA_LOG_MAX_BYTES", 0),
            backup_count=config.get("DATA_LOG_BACKUP_COUNT", 0),
            pending_max=config["DATA_LOG_PENDING_MAX"],
            metrics=metrics.event_log_metrics(),
        )
        self._reload = CatalogReload(self.redis, config)
        atexit.register(self.close)

    def check_serving(self) -> None:
        """Refuse a request before it does any work when its event could not be kept or no
        catalog is served because Redis lost it.

        Raises:
            EventLogUnavailable: the event log failed and holds all the events it may.
            CatalogUnavailable: the catalog this process served is gone from Redis (a reload of
                the configured one has been started) or is being reloaded.
            redis.RedisError: Redis is unreachable.
        """
        self.event_log.check_accepting()
        self.check_catalog()

    def check_catalog(self) -> None:
        """Refresh the catalog; when none is served, say why (and start reloading a lost one).

        Raises:
            CatalogUnavailable: see :meth:`check_serving`.
            redis.RedisError: Redis is unreachable.
        """
        self.catalog.refresh()
        if not len(self.catalog):
            self._reload.check(self.catalog)

    def recommend(self, name: str, user: int, track: int, time_: float) -> tuple[int, bool]:
        """The recommendation of recommender ``name``, and whether it is the random fallback.

        A recommender that raises (a bug, or Redis failing mid-request), or answers something that
        is not a track of the catalog, must not fail the request: the user gets a random track,
        the event says ``fallback``, and the server log a warning.
        """
        try:
            answer = self.recommenders[name].recommend_next(user, track, time_)
            if self.catalog.contains(answer):
                return int(answer), False
            log.warning("recommender %s answered %r, not a catalog track: random", name, answer)
            metrics.fallback(name, "not_a_track")
        except redis.RedisError as exc:  # Redis failing (say, the node of the user's keys): a line
            log.warning("recommender %s: Redis failed (%s); random track instead", name, exc)
            metrics.redis_error(metrics.NEXT_ENDPOINT, answered_503=False)
            metrics.fallback(name, "redis")
        except Exception:  # a bug: with its traceback
            log.warning("recommender %s failed; random track instead", name, exc_info=True)
            metrics.fallback(name, "exception")
        return self.catalog.random_track(self.rng), True

    def end_session(self, user: int) -> None:
        """Forget the user's session state (``/last``)."""
        end_session(self.redis, user)

    def log_event(
        self,
        message: str,
        user: int,
        report: PlayReport,
        latency: float,
        recommendation: int | None,
        experiments: dict[str, str],
        recommender: str,
        fallback: bool = False,
    ) -> None:
        """Write one event of the log (see ``botify.events``)."""
        event = {
            MESSAGE: message,
            TIMESTAMP: time.time_ns() // 1_000_000,
            USER: user,
            TRACK: report.track,
            TIME: report.time,
            LATENCY: latency,
            RECOMMENDATION: recommendation,
            EXPERIMENTS: experiments,
            RECOMMENDER: recommender,
        }
        if fallback:
            event[FALLBACK] = True
        self.event_log.write(event)

    def close(self) -> None:
        """Write what the event log holds and close it (idempotent)."""
        self.event_log.close()


def _output_json(data: Any, code: int, headers: Mapping[str, str] | None = None) -> Response:
    response = make_response(orjson.dumps(data), code)
    response.headers.extend(headers or {})
    response.headers["Content-Type"] = "application/json"
    return response


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the botify Flask app.

    Args:
        config: values applied over defaults, ``config.json`` and ``BOTIFY_*`` variables.

    Returns:
        The app; its service is ``app.extensions["botify"]`` (call ``close()`` on it to flush the
        event log when done).

    Raises:
        StoreUnavailable, ConfigError: see :class:`BotifyService`.
    """
    # No static folder: Flask's default /static route would answer HTML.
    app = Flask("botify", static_folder=None)
    app.config.update(load_config(overrides=config))
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    init_app(app)
    return app


def init_app(app: Flask) -> BotifyService:
    """Bind a :class:`BotifyService`, the API's resources and its JSON errors to ``app``."""
    from botify.service.errors import register_error_handlers

    service = BotifyService(app.config)
    app.extensions["botify"] = service
    # A path with "//" (say /next/%2F1) is a 404 like any unknown URL, not an HTML 308 redirect.
    app.url_map.merge_slashes = False
    api = Api(app, catch_all_404s=True)
    api.representations["application/json"] = _output_json
    register_error_handlers(app, api)
    kwargs = {"resource_class_kwargs": {"service": service}}
    api.add_resource(Hello, "/", **kwargs)
    api.add_resource(Health, "/health", **kwargs)
    api.add_resource(Track, "/track/<track>", **kwargs)
    api.add_resource(NextTrack, "/next/<user>", **kwargs)
    api.add_resource(LastTrack, "/last/<user>", **kwargs)
    metrics.instrument(app, service)
    return service
