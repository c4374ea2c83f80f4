"""The HTTP resources, wire-compatible with the course's botify."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import request
from flask_restful import Resource

from botify.service import metrics
from botify.service.catalog_reload import CatalogUnavailable
from botify.service.errors import json_errors, unavailable_message
from botify.service.schema import InvalidRequest, PlayReport, parse_path_id

if TYPE_CHECKING:
    from botify.service.app import BotifyService


class _ServiceResource(Resource):
    """A resource given the process's :class:`BotifyService` through ``resource_class_kwargs``."""

    method_decorators = [json_errors]

    def __init__(self, service: BotifyService) -> None:
        self.service = service


class Hello(_ServiceResource):
    """``GET /``: the service is alive."""

    def get(self) -> dict[str, str]:
        return {"status": "alive", "message": "welcome to botify, the best toy music recommender"}


class Health(_ServiceResource):
    """``GET /health``: 200 when Redis answers, a catalog is served and the event log is written;
    503 with the reason otherwise."""

    method_decorators = []

    def get(self) -> tuple[dict[str, Any], int]:
        service = self.service
        try:
            service.redis.ping()
            version = service.catalog.sync()
        except Exception as exc:  # any Redis failure means unhealthy, whatever its class
            metrics.redis_error("/health", answered_503=True)
            return {"status": "unavailable", "message": unavailable_message(exc)}, 503
        events = service.event_log.state()
        body = {
            "status": "ok",
            "redis": "up",
            "catalog": {"version": version, "tracks": len(service.catalog)},
            "event_log": {
                "file": events.path, "written": events.written, "pending": events.pending,
                "given_up": events.given_up,
            },
        }
        problems = []
        if version is None:
            try:
                service.check_catalog()
                problems.append("no catalog loaded: load one with `botify load catalog FILE`")
            except CatalogUnavailable as exc:
                problems.append(str(exc))
            except Exception as exc:  # Redis failing right after the ping
                metrics.redis_error("/health", answered_503=True)
                return {"status": "unavailable", "message": unavailable_message(exc)}, 503
        if events.error:
            problems.append(
                f"the event log cannot be written ({events.error}); {events.pending} events held"
            )
        if problems:
            body.update(status="unavailable", message="; ".join(problems))
            return body, 503
        return body, 200


class Track(_ServiceResource):
    """``GET /track/<track>``: the track's record."""

    def get(self, track: str) -> dict[str, Any]:
        track_id = parse_path_id(track, "track")
        self.service.catalog.refresh()
        record = self.service.catalog.record(track_id)
        if record is None:
            raise InvalidRequest(f"track: {track_id} is not in the catalog", 404)
        return record


class _Play(_ServiceResource):
    """Shared checks of ``/next`` and ``/last``."""

    def _accept(self, user: str) -> tuple[int, PlayReport]:
        user_id = parse_path_id(user, "user")
        report = PlayReport.from_request(request)
        self.service.check_serving()
        catalog = self.service.catalog
        if not catalog.contains(report.track):
            if not len(catalog):
                raise InvalidRequest(
                    f"track: {report.track} is not in the catalog (the catalog is empty: "
                    "load one with `botify load catalog FILE`)",
                    404,
                )
            raise InvalidRequest(f"track: {report.track} is not in the catalog", 404)
        return user_id, report


class NextTrack(_Play):
    """``POST /next/<user>``: record the play, answer the next track."""

    def post(self, user: str) -> dict[str, int]:
        started = time.perf_counter()
        user_id, report = self._accept(user)
        name, experiments = self.service.experiments.route(user_id)
        recommendation, fallback = self.service.recommend(
            name, user_id, report.track, report.time
        )
        latency = time.perf_counter() - started
        self.service.log_event(
            "next", user_id, report, latency, recommendation, experiments, name, fallback
        )
        metrics.routed(experiments, name, latency)
        return {"user": user_id, "track": recommendation}


class LastTrack(_Play):
    """``POST /last/<user>``: record the last play of a session."""

    def post(self, user: str) -> dict[str, int]:
        started = time.perf_counter()
        user_id, report = self._accept(user)
        name, experiments = self.service.experiments.route(user_id)
        self.service.end_session(user_id)
        latency = time.perf_counter() - started
        self.service.log_event("last", user_id, report, latency, None, experiments, name)
        metrics.routed(experiments, None, latency)
        return {"user": user_id}
