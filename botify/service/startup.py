"""What the service does once, in the master process, before its workers start.

The work is done in a short-lived child of the master (a fork): reading the catalog and the
artifact files builds hundreds of megabytes of Python objects, which a process does not give back
to the system once freed, and the workers are forks of the master. Done in the master itself, that
memory would stay in it and in every worker (their RSS); done in a child, it goes when the child
exits.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from botify.errors import BotifyError


def prepare(config: Mapping[str, Any], say: Callable[[str], None]) -> None:
    """Check the event log's directory, Redis and the configuration, load ``TRACKS_CATALOG`` and
    ``ARTIFACTS`` (see the module: in a child process, which reports back what it said and how it
    failed).

    Done once in the master, before the workers start, so a mistake is one clear message.

    Raises:
        StoreUnavailable: Redis does not answer.
        ConfigError: experiments or recommenders are misconfigured, the event log's directory is
            not writable.
        DataError: a data file is malformed.
    """
    receive, send = multiprocessing.Pipe(duplex=False)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's side is checked through the parent's
        status = 0
        try:
            receive.close()
            _prepare(config, lambda line: send.send(("say", line)))
            send.send(("done", None))
        except BaseException as exc:  # everything goes back to the master, then the child exits
            try:
                send.send(("error", exc) if isinstance(exc, BotifyError)
                          else ("crash", "".join(traceback.format_exception(exc))))
            except Exception:
                status = 1
        finally:
            os._exit(status)
    send.close()
    ended = False
    try:
        while True:
            try:
                kind, value = receive.recv()
            except EOFError:
                ended = True
                raise BotifyError("the service's startup step ended without a word") from None
            ended = kind != "say"
            if kind == "say":
                say(value)
            elif kind == "error":
                raise value
            elif kind == "crash":
                raise RuntimeError(f"the service's startup step failed:\n{value}")
            else:
                return
    finally:
        receive.close()
        if not ended:  # the master was interrupted (Ctrl-C, SIGTERM): the load stops cleanly too
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass
        os.waitpid(child, 0)


def _prepare(config: Mapping[str, Any], say: Callable[[str], None]) -> None:
    """What :func:`prepare` does, in the process that calls it.

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
