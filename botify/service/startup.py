"""What the service does once, in the master process, before its workers start."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def prepare(config: Mapping[str, Any], say: Callable[[str], None]) -> None:
    """Check the event log's directory, Redis and the configuration, load ``TRACKS_CATALOG`` and
    ``ARTIFACTS``.

    Done once in the master, before the workers start, so a mistake is one clear message.

    Raises:
        StoreUnavailable: Redis does not answer.
        ConfigError: experiments or recommenders are misconfigured, the event log's directory is
            not writable.
        DataError: a data file is malformed.
    """
    import numpy as np
    import redis

    from botify.errors import StoreUnavailable
    from botify.experiments import Experiments
    from botify.recommenders.base import RecommenderContext
    from botify.recommenders.registry import build_recommenders
    from botify.service.event_log import check_settings
    from botify.store.artifacts import load_configured_artifacts
    from botify.store.catalog import RedisCatalog, load_catalog
    from botify.store.connection import connect, resolve_redis_url
    from botify.store.redis_server import redacted

    check_settings(config)
    url = resolve_redis_url(config)
    client = connect(url)
    try:
        client.ping()
        if config.get("TRACKS_CATALOG"):
            result = load_catalog(client, config["TRACKS_CATALOG"])
            state = "loaded" if result.changed else "already current"
            say(f"catalog {config['TRACKS_CATALOG']}: {result.tracks} tracks ({state}, "
                f"version {result.version}, {result.seconds:.2f} s)")
        load_configured_artifacts(client, config.get("ARTIFACTS") or {}, log=say)
        catalog = RedisCatalog(client)
        if catalog.sync() is None:
            say("no catalog in Redis yet: load one with `botify load catalog FILE` "
                "(or set TRACKS_CATALOG); until then /next answers 404")
        experiments = Experiments.from_config(config)
        context = RecommenderContext(client, catalog, config, np.random.default_rng(0))
        build_recommenders(config, context)
        _say_missing_artifacts(client, config, experiments.active.recommenders, say)
    except redis.RedisError as exc:
        raise StoreUnavailable(f"Redis at {redacted(url)} does not answer: {exc}") from None


def _say_missing_artifacts(client, config: Mapping[str, Any], arms, say) -> None:
    """One line per arm of the active experiment that reads an artifact Redis does not hold."""
    from botify.recommenders.registry import check_specs, configured
    from botify.store.artifacts import artifact_info

    specs = check_specs(configured(config))
    for arm in dict.fromkeys(arms):
        for name in specs[arm].artifacts:
            if artifact_info(client, name) is None:
                say(f"arm {arm!r} reads the artifact {name!r}, which is not loaded (no ARTIFACTS "
                    f"file gives it; train it and `botify load recs {name} FILE`): until then "
                    "it falls back")
