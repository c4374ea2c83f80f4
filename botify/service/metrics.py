"""The service's Prometheus metrics, and ``GET /metrics`` that exposes them.

Every metric is defined here. Under gunicorn the workers count in prometheus_client's
multiprocess mode: each worker writes its values to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR``, and a scrape, answered by whichever worker gets it, sums the files of
every worker, the dead ones' counters included. The master sets that directory up before the app
(and so prometheus_client) is imported, empties it at start, marks each worker that exits dead
(its live gauges go, its counters stay) and removes it at exit: see
:mod:`botify.service.gunicorn_conf`. Without that variable (the Flask test client, a single
process) the metrics live in this process's registry.

``BOTIFY_METRICS=0`` turns them off: prometheus_client is not imported, nothing is counted and there
is no ``/metrics`` route.

The request path does a few increments of memory-mapped floats (about 1 us each); what the
service serves (catalog and artifact versions, the experiments) is read at scrape time instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botify.config import METRICS_DIR_VARIABLE, metrics_enabled

if TYPE_CHECKING:
    from flask import Flask

    from botify.service.app import BotifyService

ENABLED = metrics_enabled()

# Request latencies: sub-millisecond when served from memory, tens of ms under load.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# The endpoint label of a request no route matched (404, 405).
UNMATCHED = "unmatched"
NEXT_ENDPOINT = "/next/<user>"

if ENABLED:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client import disable_created_metrics as _disable_created_metrics
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

    # No *_created series: the multiprocess mode has none, so a single process shows the same.
    _disable_created_metrics()
    REGISTRY = CollectorRegistry()

    REQUESTS = Counter(
        "botify_requests", "HTTP requests answered, by endpoint (the route) and status",
        ["endpoint", "status"], registry=REGISTRY,
    )
    REQUEST_SECONDS = Histogram(
        "botify_request_duration_seconds", "Time to answer a request, by endpoint",
        ["endpoint"], buckets=BUCKETS, registry=REGISTRY,
    )
    NEXT_SECONDS = Histogram(
        "botify_next_duration_seconds",
        "Latency of an accepted /next (the event's latency), by the recommender that served it",
        ["recommender"], buckets=BUCKETS, registry=REGISTRY,
    )
    FALLBACKS = Counter(
        "botify_recommender_fallbacks",
        "Random tracks served because the recommender failed, by recommender and reason "
        "(exception, redis, not_a_track)",
        ["recommender", "reason"], registry=REGISTRY,
    )
    EXPERIMENT_REQUESTS = Counter(
        "botify_experiment_requests",
        "Accepted /next and /last requests (events) per experiment and treatment",
        ["experiment", "treatment"], registry=REGISTRY,
    )
    EVENTS_WRITTEN = Counter(
        "botify_event_log_written_events", "Events written to the event log", registry=REGISTRY,
    )
    EVENTS_HELD = Counter(
        "botify_event_log_held_events",
        "Events held in memory because the event log could not be written", registry=REGISTRY,
    )
    EVENTS_GIVEN_UP = Counter(
        "botify_event_log_given_up_events",
        "Held events given up at a worker's stop (never written)", registry=REGISTRY,
    )
    EVENTS_PENDING = Gauge(
        "botify_event_log_pending_events", "Events held in memory now, over the live workers",
        registry=REGISTRY, multiprocess_mode="livesum",
    )
    REDIS_ERRORS = Counter(
        "botify_redis_errors",
        "Redis failures met while answering (a 503, or a recommender's fallback), by endpoint",
        ["endpoint"], registry=REGISTRY,
    )
    REDIS_UNAVAILABLE = Counter(
        "botify_redis_unavailable_responses", "503 answers caused by a Redis failure, by endpoint",
        ["endpoint"], registry=REGISTRY,
    )


class EventLogMetrics:
    """What :class:`botify.service.event_log.EventLog` reports as it writes, holds or gives up."""

    def written(self, count: int) -> None:
        EVENTS_WRITTEN.inc(count)

    def held(self, count: int) -> None:
        EVENTS_HELD.inc(count)

    def given_up(self, count: int) -> None:
        EVENTS_GIVEN_UP.inc(count)

    def pending(self, depth: int) -> None:
        EVENTS_PENDING.set(depth)


def event_log_metrics() -> EventLogMetrics | None:
    """The event log's reporter, or None when the metrics are off."""
    return EventLogMetrics() if ENABLED else None


# Label children, created once per label values (``labels()`` costs more than the increment).
_requests: dict[tuple[str, int], tuple[Any, Any]] = {}
_next_seconds: dict[str, Any] = {}
_treatments: dict[tuple[str, str], Any] = {}


def _request_children(endpoint: str, status: int) -> tuple[Any, Any]:
    children = REQUESTS.labels(endpoint, str(status)), REQUEST_SECONDS.labels(endpoint)
    _requests[(endpoint, status)] = children
    return children


def routed(experiments: Mapping[str, str], recommender: str | None, latency: float) -> None:
    """An accepted ``/next`` (``recommender`` served it in ``latency`` s) or ``/last`` (None)."""
    if not ENABLED:
        return
    for key in experiments.items():
        child = _treatments.get(key)
        if child is None:
            child = _treatments[key] = EXPERIMENT_REQUESTS.labels(*key)
        child.inc()
    if recommender is not None:
        child = _next_seconds.get(recommender)
        if child is None:
            child = _next_seconds[recommender] = NEXT_SECONDS.labels(recommender)
        child.observe(latency)


def fallback(recommender: str, reason: str) -> None:
    """The recommender failed (``reason``: exception, redis, not_a_track); a random track went."""
    if ENABLED:
        FALLBACKS.labels(recommender, reason).inc()


def redis_error(endpoint: str, answered_503: bool) -> None:
    """A Redis failure while answering ``endpoint``; ``answered_503``: it made the answer a 503."""
    if ENABLED:
        REDIS_ERRORS.labels(endpoint).inc()
        if answered_503:
            REDIS_UNAVAILABLE.labels(endpoint).inc()


def instrument(app: Flask, service: BotifyService) -> None:
    """Count every request ``app`` answers (by route and status, with its time) and add
    ``GET /metrics``. Nothing when the metrics are off."""
    if not ENABLED:
        return
    from flask import request

    dispatch = app.full_dispatch_request
    clock = time.perf_counter
    children = _requests

    def full_dispatch_request():
        started = clock()
        status = 500
        try:
            response = dispatch()
            status = response.status_code
            return response
        finally:
            rule = request.url_rule
            endpoint = rule.rule if rule is not None else UNMATCHED
            pair = children.get((endpoint, status)) or _request_children(endpoint, status)
            pair[0].inc()
            pair[1].observe(clock() - started)

    app.full_dispatch_request = full_dispatch_request

    def metrics_view():
        from flask import Response

        return Response(scrape(service), content_type=CONTENT_TYPE_PLAIN_0_0_4)

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])


def scrape(service: BotifyService | None = None) -> bytes:
    """The text exposition: every worker's metrics summed (or this process's), then what
    ``service`` serves."""
    multiproc = os.environ.get(METRICS_DIR_VARIABLE)
    if multiproc:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiproc)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if service is not None:
        serving = CollectorRegistry()
        serving.register(_ServingCollector(service))
        body += generate_latest(serving)
    return body


class _ServingCollector:
    """Gauges read at scrape time: the catalog and artifact versions in Redis (what every worker
    serves; omitted while Redis does not answer) and the configured experiments."""

    def __init__(self, service: BotifyService) -> None:
        self.service = service

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[Any]:
        service = self.service
        active = service.experiments.active
        experiment = GaugeMetricFamily(
            "botify_experiment_active", "The experiment that routes requests (1)",
            labels=["experiment"],
        )
        experiment.add_metric([active.name], 1)
        yield experiment
        treatments = GaugeMetricFamily(
            "botify_experiment_treatment",
            "Each experiment's treatments and the recommender of each (1)",
            labels=["experiment", "treatment", "recommender"],
        )
        for one in service.experiments.experiments:
            for treatment, recommender in zip(one.treatments, one.recommenders, strict=True):
                treatments.add_metric([one.name, treatment, recommender], 1)
        yield treatments
        try:
            catalog = service.catalog.sync()
            artifacts = _artifact_versions(service)
        except Exception:  # Redis down: the counters still answer
            return
        if catalog is not None:
            yield GaugeMetricFamily(
                "botify_catalog_version", "The catalog version being served", value=catalog
            )
            yield GaugeMetricFamily(
                "botify_catalog_tracks", "Tracks in the catalog being served",
                value=len(service.catalog),
            )
        versions = GaugeMetricFamily(
            "botify_artifact_version",
            "The version being served of each artifact the configuration loads or the "
            "experiments' recommenders read (absent: not loaded)",
            labels=["artifact"],
        )
        for name, version in artifacts.items():
            versions.add_metric([name], version)
        yield versions


def _artifact_versions(service: BotifyService) -> dict[str, int]:
    """Artifact name -> the version in Redis, for the artifacts the service may read."""
    from botify.store.artifacts import pointer_key

    names = getattr(service, "_metrics_artifacts", None)
    if names is None:
        names = service._metrics_artifacts = _artifact_names(service.config)
    if not names:
        return {}
    pipe = service.redis.pipeline(transaction=False)
    for name in names:
        pipe.get(pointer_key(name))
    return {
        name: int(raw) for name, raw in zip(names, pipe.execute(), strict=True) if raw is not None
    }


def _artifact_names(config: Mapping[str, Any]) -> list[str]:
    names = dict.fromkeys(config.get("ARTIFACTS") or {})
    try:
        from botify.experiments import Experiments
        from botify.recommenders.registry import check_specs, configured

        specs = check_specs(configured(config))
        for experiment in Experiments.from_config(config).experiments:
            for arm in experiment.recommenders:
                names.update(dict.fromkeys(specs[arm].artifacts))
    except Exception:  # a plugin whose declarations cannot be read: the configured ones only
        pass
    return sorted(names)
