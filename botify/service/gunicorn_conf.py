"""gunicorn settings of the service, shared by ``botify serve`` and the Docker image.

Used directly as::

    gunicorn -c python:botify.service.gunicorn_conf "botify.service.app:create_app()"

where ``BOTIFY_BIND`` and ``BOTIFY_WORKERS`` set the address and the number of workers there.
``BOTIFY_WORKER_CONNECTIONS`` (there and with ``botify serve``) sets how many connections each
worker holds at once.

Why these values:

- gevent workers: a request spends most of its time waiting on Redis; greenlets overlap those waits.
  ``BOTIFY_WORKER_CLASS=gevent_pywsgi`` selects gevent's own HTTP server instead of gunicorn's
  parser: about 15% less CPU per request in ``bench/bench_service.py`` (one ``send`` per response
  instead of two), but it has no timeout on idle connections or slow headers: an idle or stalled
  client holds its connection (and a graceful stop until ``graceful_timeout``), so it does not
  suit clients that are not trusted.
- ``worker_connections`` 1000 (``BOTIFY_WORKER_CONNECTIONS``): the connections one worker holds at
  once; when they are all taken, new clients wait in the listen backlog until one ends. A client
  that sends its headers slowly is cut after ``keepalive`` (gunicorn bounds the request line and
  headers by it) and one that sends its body slowly after 2 s (``botify.service.schema.read_body``
  answers 408 and the connection closes), so clients that stall cannot hold the slots for long:
  with 2,100 stalled connections on two workers, new clients were answered within 2 s (before the
  body timeout, they waited for good). Each connection costs a file descriptor and a greenlet:
  keep ``workers`` x this well under ``ulimit -n``, beside the Redis connections.
- ``keepalive`` 2 s: clients (the simulator, nginx) reuse connections, and an idle one is closed
  after 2 s, which also bounds how long an idle client delays a graceful stop (nginx's upstream
  ``keepalive_timeout`` is set below it so nginx never reuses a connection being closed). The
  listening socket has
  ``TCP_NODELAY`` (gunicorn sets it), so a response is never held back by Nagle's algorithm waiting
  for the client's delayed ACK (the 40 ms stall on keep-alive connections).
- ``graceful_timeout`` 10 s: on SIGTERM a worker stops accepting, finishes its requests, then
  :func:`worker_exit` flushes the event log, so no accepted request's event is lost.
- no access log: the event log is the record of requests; a second log line per request would
  cost as much as the request's own work.
- metrics (``GET /metrics``, off with ``BOTIFY_METRICS=0``): the master sets up
  ``PROMETHEUS_MULTIPROC_DIR`` (:func:`start_metrics_dir`) before the app is imported, so every
  worker counts in prometheus_client's multiprocess files there; :func:`child_exit` marks a
  worker that exited dead (its live gauges go, its counters stay in the sum) and :func:`on_exit`
  removes the directory.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import tempfile
import warnings

from botify.config import (
    BIND_VARIABLE,
    METRICS_DIR_VARIABLE,
    WORKER_CLASS_VARIABLE,
    WORKER_CONNECTIONS_VARIABLE,
    WORKERS_VARIABLE,
    metrics_enabled,
)

worker_class = os.environ.get(WORKER_CLASS_VARIABLE, "gevent")
bind = os.environ.get(BIND_VARIABLE, "127.0.0.1:5001")


def _env_count(name: str, default: int) -> int:
    """A positive whole number from the environment variable ``name``.

    Raises:
        ConfigError: it is set to something else.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        from botify.errors import ConfigError

        raise ConfigError(f"{name} must be a whole number of at least 1, got {text!r}")
    return int(text)


workers = _env_count(WORKERS_VARIABLE, 2)
worker_connections = _env_count(WORKER_CONNECTIONS_VARIABLE, 1000)
keepalive = 2
timeout = 30
graceful_timeout = 10
accesslog = None
errorlog = "-"
loglevel = "info"
proc_name = "botify"
# gunicorn's control socket has one default path per user: two instances would fight over it.
control_socket_disable = True

# gevent patches ssl in each worker, after redis-py (imported by the master) loaded it; the service
# speaks no TLS, so the warning that this may break TLS sockets does not apply.
warnings.filterwarnings("ignore", message="Monkey-patching ssl after ssl has already been imported")


def on_starting(server) -> None:
    """Plain ``gunicorn`` (the Docker image): load the catalog and artifacts, check the config.

    ``botify serve`` does the same itself before starting gunicorn, so its settings
    (:data:`SETTINGS`) leave this hook out. A failure stops gunicorn with the message.
    """
    import sys

    from botify.config import load_config
    from botify.errors import BotifyError
    from botify.service.startup import prepare

    metrics_dir = start_metrics_dir()
    if metrics_dir:
        server.log.info("botify: metrics at /metrics, summed over the workers' files in %s",
                        metrics_dir)
    try:
        prepare(load_config(), lambda line: server.log.info("botify: %s", line))
    except BotifyError as exc:
        print(f"botify: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    import botify.service.app  # noqa: F401  (imported once, before the workers fork)


def post_fork(server, worker) -> None:
    """Remember a SIGTERM that arrives while the worker boots.

    Until the worker installs its own handlers (after gevent's patching), a SIGTERM would run the
    master's handler, inherited through the fork, and be lost: the worker would then serve until
    the graceful timeout kills it. :func:`post_worker_init` honours the remembered signal.
    """
    worker.botify_early_term = False

    def early_term(signum, frame) -> None:
        worker.botify_early_term = True

    signal.signal(signal.SIGTERM, early_term)


def post_worker_init(worker) -> None:
    """Freeze the loaded objects out of the garbage collector; stop at once if SIGTERM came early.

    The app, Flask, numpy, pandas and the recommenders leave a few hundred thousand long-lived
    objects: every full collection walked them all, 35-45 ms during which the worker served no
    request (the p99 of ``bench/bench_service.py``). :func:`gc.freeze` moves them to a permanent
    generation that collections skip, so a full collection only walks what requests created.
    """
    gc.collect()
    gc.freeze()
    if getattr(worker, "botify_early_term", False):
        worker.alive = False


def post_request(worker, req, environ, resp) -> None:
    """Let the worker's other connections go first before this one reads its next request.

    gevent only switches greenlets when a socket would block. Under load the next request of a
    keep-alive connection, and Redis' answers, are often already there, so one greenlet could
    serve its connection request after request while the others waited (a p50 of 0.3 ms beside a
    p90 of 160 ms at concurrency 64). ``gevent.idle()`` waits until the loop has polled the sockets
    and run every greenlet that was ready: round-robin service over all connections with data. In
    ``bench/bench_service.py`` on the ``ALL`` workload it cut p99 at concurrency 8 from 27 to 6.5 ms
    and at 64 from 162 to 42 ms against ``gevent.sleep(0)``, which only lets the greenlets already
    scheduled run (a positive sleep evens out as well, but waits for the loop's next timer tick:
    0.6 to 1.7 ms per request at concurrency 1).
    """
    _gevent_idle()


def worker_exit(server, worker) -> None:
    """Flush the worker's event log when it exits (SIGTERM, SIGINT, max-requests, reload)."""
    # Hand the frozen objects back to the collector, or the interpreter's shutdown collects them
    # after logging is torn down and prints its weakref callbacks' tracebacks.
    gc.unfreeze()
    app = getattr(worker, "wsgi", None)
    service = getattr(app, "extensions", {}).get("botify") if app is not None else None
    if service is not None:
        service.close()


def child_exit(server, worker) -> None:
    """Master: a worker exited (any way, SIGKILL included); drop its live gauges from the metrics.

    Its counters and histograms stay in the directory, so the sum over the workers loses nothing
    and its replacement, a new pid, starts its own files.
    """
    directory = os.environ.get(METRICS_DIR_VARIABLE)
    if directory and os.path.isdir(directory):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, directory)


def on_exit(server) -> None:
    """Master: gunicorn stops; remove the metrics directory."""
    remove_metrics_dir()


_metrics_dir_made: list[str] = []  # the directory this process made (removed whole at exit)


def start_metrics_dir() -> str | None:
    """Master, before prometheus_client is imported: the workers' metrics directory, empty.

    ``PROMETHEUS_MULTIPROC_DIR`` when set (created if missing; its ``*.db`` files, left by an
    earlier run, removed), else a new temporary directory, exported in that variable so the
    workers (forks) inherit it. None, and nothing done, with ``BOTIFY_METRICS=0``. A directory
    given must be this instance's own: the master empties it, and a scrape sums all it holds.
    """
    if not metrics_enabled():
        return None
    directory = os.environ.get(METRICS_DIR_VARIABLE)
    if directory:
        os.makedirs(directory, exist_ok=True)
        _remove_db_files(directory)
    else:
        directory = tempfile.mkdtemp(prefix="botify-metrics-")
        _metrics_dir_made.append(directory)
        os.environ[METRICS_DIR_VARIABLE] = directory
    return directory


def remove_metrics_dir() -> None:
    """Remove what :func:`start_metrics_dir` set up: the directory it made, or the files of the
    one it was given (idempotent)."""
    directory = os.environ.get(METRICS_DIR_VARIABLE)
    if not directory:
        return
    if directory in _metrics_dir_made:
        shutil.rmtree(directory, ignore_errors=True)
        _metrics_dir_made.remove(directory)
        os.environ.pop(METRICS_DIR_VARIABLE, None)
    elif os.path.isdir(directory):
        _remove_db_files(directory)


def _remove_db_files(directory: str) -> None:
    for name in os.listdir(directory):
        if name.endswith(".db"):
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass


def _gevent_idle() -> None:
    import gevent

    # Bounded: a loop that always has an event pending (a stream of new connections) must not hold
    # a finished request, and its connection, for ever.
    with gevent.Timeout(_IDLE_WAIT_MAX, False):
        gevent.idle()


# Seconds a finished request waits for the loop to go idle at most: above one round over a worker's
# connections under load (32 connections at half a millisecond each), so that it rarely cuts one.
_IDLE_WAIT_MAX = 0.1


SETTINGS = {
    name: globals()[name]
    for name in (
        "worker_class", "workers", "bind", "worker_connections", "keepalive", "timeout",
        "graceful_timeout", "accesslog", "errorlog", "loglevel", "proc_name",
        "control_socket_disable", "post_fork", "post_worker_init", "post_request", "worker_exit",
        "child_exit", "on_exit",
    )
}
