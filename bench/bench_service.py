"""HTTP speed and cost of ``POST /next`` under ``botify serve`` (gunicorn, gevent workers) (wrk).

By default it measures the workload users run (``--workload real``): the shipped ``config.json``
routing its ``ALL`` experiment over every built-in recommender, a 50,000-track catalog and the
artifacts at the sizes ``make demo`` trains (``bench/workload.py``), users drawn from the 10,000
the per-user lists cover. In the same command it measures the floor every figure is divided by: a
bare Flask app that parses the same JSON body and answers, under the same gunicorn settings
(``botify.service.gunicorn_conf``), and a ``random``-only config. For each: requests/s and
p50/p90/p99/max latency at each concurrency over keep-alive connections, and the CPU the service's
processes and Redis spent per request. Then, for the ``ALL`` config: RSS and USS of the master and
each worker, Redis memory per key family, the event log's mean ``latency`` per recommender, and the
time from start to the first 200 on ``POST /next`` (the catalog already loaded once).
``--per-recommender`` also serves each recommender alone at concurrency 8;
``--redis-cluster N`` also serves ``ALL`` from a private Redis Cluster of N masters (its CPU
summed over the nodes); ``--code REVISION`` also serves ``ALL`` with the ``botify`` package of an
earlier git revision (a baseline for a change, measured in the same run). ``--workload small``
is the former default (the two-recommender default config, a 10,000-track synthetic catalog).

The course's service, measured on this machine: 2,880 requests/s at concurrency 8 (gunicorn, 2
gevent workers), p99 538 ms at concurrency 64, and a 44 ms stall on every keep-alive request of its
default single-process start.

    apt-get install -y wrk        # the load generator (Debian package)
    .venv/bin/python bench/bench_service.py [--duration 5] [--workers 2] [--per-recommender]
        [--redis-cluster 3] [--code HEAD~3] [--workload small [--baseline]]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from botify.events import iter_events
from botify.store import EmbeddedRedis, connect
from botify.store.catalog import load_records, synthetic_records
from botify.store.redis_cluster import EmbeddedCluster
from botify.store.redis_server import free_port

COURSE_RPS_AT_8 = 2880
TARGET_P99_AT_64_MS = 25.0
STALL_MS = 40.0

LUA = r"""
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local tracks = %(tracks)d
local users = %(users)d
request = function()
  local user = math.random(0, users - 1)
  local track = math.random(0, tracks - 1)
  local body = string.format('{"track": %%d, "time": %%.2f}', track, math.random())
  return wrk.format("POST", "/next/" .. user, {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%.6f, "p50": %%d, "p90": %%d, "p99": %%d, "max": %%d, ' ..
    '"non2xx": %%d, "socket_errors": %%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def require_wrk() -> str:
    """The wrk binary, or exit with how to install it."""
    found = shutil.which("wrk")
    if found is None:
        print("bench_service: wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk "
              "(or build it from https://github.com/wg/wrk)", file=sys.stderr)
        raise SystemExit(2)
    return found


def wait_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited at start")
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("the server did not come up")


def run_wrk(wrk: str, url: str, script: Path, connections: int, duration: float) -> dict:
    threads = min(connections, 2)
    seconds = max(1, round(duration))  # wrk takes whole seconds
    args = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
            "-s", str(script), url]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed: {done.stdout}{done.stderr}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes ``pids`` and their children (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    seen = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(child) for child in children)
    return total


def start_service(
    workdir: Path, redis_url: str, workers: int, extra_env: dict[str, str]
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
    env.update({"BOTIFY_REDIS_URL": redis_url, "BOTIFY_DATA_LOG_FILE": str(workdir / "data.jsonl")})
    env.update(extra_env)
    process = subprocess.Popen(
        [sys.executable, "-m", "botify.service.cli", "--port", str(port),
         "--workers", str(workers)],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def start_flask_dev(workdir: Path, redis_url: str) -> tuple[subprocess.Popen, str]:
    """The same app under Flask's single-process development server (HTTP/1.1 keep-alive)."""
    port = free_port()
    code = (
        "from werkzeug.serving import WSGIRequestHandler; "
        "WSGIRequestHandler.protocol_version = 'HTTP/1.1'; "
        "from botify.service.app import create_app; "
        f"create_app({{'REDIS_URL': {redis_url!r}, "
        f"'DATA_LOG_FILE': {str(workdir / 'dev.jsonl')!r}}})"
        f".run(host='127.0.0.1', port={port}, threaded=True)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
    process = subprocess.Popen([sys.executable, "-c", code], cwd=workdir, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure(wrk: str, url: str, script: Path, connections: int, duration: float,
            service_pid: int, redis_pids: list[int]) -> dict:
    """One wrk run, with the CPU the service and Redis (all its nodes) spent per request."""
    before = cpu_seconds([service_pid]), cpu_seconds(redis_pids)
    result = run_wrk(wrk, url, script, connections, duration)
    after = cpu_seconds([service_pid]), cpu_seconds(redis_pids)
    n = max(result["requests"], 1)
    result["service_cpu_us"] = (after[0] - before[0]) / n * 1e6
    result["redis_cpu_us"] = (after[1] - before[1]) / n * 1e6
    return result


def report(name: str, results: dict[int, dict]) -> None:
    print(f"\n{name}")
    print(f"{'concurrency':>11} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'errors':>7} {'CPU us/req: service':>20} {'redis':>6}")
    for connections, r in results.items():
        errors = r["non2xx"] + r["socket_errors"]
        print(f"{connections:>11} {r['rps']:>9,.0f} {r['p50'] / 1e3:>8.2f} {r['p90'] / 1e3:>8.2f} "
              f"{r['p99'] / 1e3:>8.2f} {r['max'] / 1e3:>8.2f} {errors:>7} "
              f"{r['service_cpu_us']:>20.0f} {r['redis_cpu_us']:>6.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("real", "small"), default="real")
    parser.add_argument("--per-recommender", action="store_true",
                        help="also serve each recommender of ALL alone (real workload)")
    parser.add_argument("--redis-cluster", type=int, default=0, metavar="MASTERS",
                        help="also serve ALL from a private Redis Cluster (real workload)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per concurrency level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--code", metavar="REVISION",
                        help="also serve ALL with git REVISION's code (e.g. HEAD~3), same run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra environment of the service (e.g. BOTIFY_WORKERS=3)")
    parser.add_argument("--baseline", action="store_true",
                        help="also measure Flask's single-process server, same app, same run")
    args = parser.parse_args()
    wrk = require_wrk()
    if args.workload == "real":
        return real_workload(args, wrk)
    with tempfile.TemporaryDirectory(prefix="botify-bench-") as tmp, EmbeddedRedis() as redis:
        workdir = Path(tmp)
        load_records(connect(redis.url), synthetic_records(args.tracks, args.tracks // 10, 0))
        script = workdir / "next.lua"
        script.write_text(LUA % {"tracks": args.tracks, "users": 100_000})
        extra_env = dict(item.split("=", 1) for item in args.env)
        process, url = start_service(workdir, redis.url, args.workers, extra_env)
        try:
            wait_up(url, process)
            run_wrk(wrk, url, script, 8, 1.0)  # warm-up
            redis_pids = [redis._process.pid]
            results = {
                c: measure(wrk, url, script, c, args.duration, process.pid, redis_pids)
                for c in args.concurrency
            }
        finally:
            stop(process)
        logged = sum(1 for _ in iter_events([workdir / "data.jsonl"]))
        report(f"botify serve, {args.workers} gevent workers, {os.cpu_count()} CPUs "
               f"(shared with wrk and Redis)", results)
        served = sum(r["requests"] for r in results.values())
        print(f"event log: {logged} lines for {served} measured requests (+ warm-up)")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        for c, r in results.items():
            per_request = (r["service_cpu_us"] + r["redis_cpu_us"]) / 1e6
            if per_request > 0:
                print(f"at concurrency {c}: service + Redis CPU {per_request * 1e6:.0f} "
                      f"us/request, i.e. {os.cpu_count() / per_request:,.0f} req/s if they had "
                      "every CPU")
        if args.baseline:
            process, url = start_flask_dev(workdir, redis.url)
            try:
                wait_up(url, process)
                base = {
                    c: measure(wrk, url, script, c, args.duration, process.pid, redis._process.pid)
                    for c in (1, 8)
                }
            finally:
                stop(process)
            report("baseline: the same app under Flask's single-process server", base)
            for c in (1, 8):
                if c in results:
                    ratio = results[c]["rps"] / base[c]["rps"]
                    print(f"ratio at concurrency {c}: {ratio:.1f}x req/s")
    checks = []
    if 8 in results:
        ratio = results[8]["rps"] / COURSE_RPS_AT_8
        checks.append((f"req/s at 8 = {ratio:.1f}x the course's {COURSE_RPS_AT_8:,}", ratio >= 2))
    if 64 in results:
        p99 = results[64]["p99"] / 1e3
        checks.append((f"p99 at 64 = {p99:.1f} ms (target < {TARGET_P99_AT_64_MS:.0f} ms)",
                       p99 < TARGET_P99_AT_64_MS))
    if 1 in results:
        p99 = results[1]["p99"] / 1e3
        text = f"p99 at 1 = {p99:.2f} ms (a keep-alive stall would be >= {STALL_MS:.0f} ms)"
        checks.append((text, p99 < STALL_MS))
    print()
    for text, ok in checks:
        print(f"{'met   ' if ok else 'MISSED'} {text}")
    return 0


FLOOR_APP = """
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/next/<int:user>")
def next_track(user):
    body = request.get_json()
    return jsonify(user=user, track=int(body["track"]), recommender="floor")


@app.get("/health")
def health():
    return jsonify(status="ok")
"""


FLOOR_CONF = """
from botify.service.gunicorn_conf import SETTINGS

# The service's settings, without its hooks (they run the service's own startup and shutdown).
globals().update({k: v for k, v in SETTINGS.items() if not callable(v)})
bind = %(bind)r
workers = %(workers)d
"""


def start_floor(workdir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    """A bare Flask endpoint (parse the body, answer) under the service's gunicorn settings."""
    (workdir / "floor_app.py").write_text(FLOOR_APP)
    port = free_port()
    (workdir / "floor_conf.py").write_text(FLOOR_CONF % {"bind": f"127.0.0.1:{port}",
                                                          "workers": workers})
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
    env.update({"BOTIFY_METRICS": "0", "PYTHONPATH": str(workdir)})
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:floor_conf", "floor_app:app"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def first_next(url: str, process: subprocess.Popen, started: float, timeout: float = 60) -> float:
    """Seconds from ``started`` to the first 200 on ``POST /next``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited at start")
        try:
            if requests.post(url + "/next/1", json={"track": 1, "time": 0.5},
                             timeout=1).status_code == 200:
                return time.perf_counter() - started
        except requests.RequestException:
            pass
        time.sleep(0.02)
    raise SystemExit("the server did not answer /next")


def memory(pid: int) -> list[tuple[str, float, float]]:
    """(role, RSS MB, USS MB) of the service's master (``botify serve`` runs gunicorn's master
    in its own process) and each worker."""
    import psutil

    master = psutil.Process(pid)
    out = []
    for role, process in [("master", master), *(("worker", c) for c in master.children())]:
        info = process.memory_full_info()
        out.append((role, info.rss / 2**20, info.uss / 2**20))
    return out


def redis_families(client) -> dict[str, tuple[int, int]]:
    """Redis memory by key family (digits as ``*``): family -> (keys, bytes)."""
    import re

    families: dict[str, list[int]] = {}
    for key in client.scan_iter(count=1000):
        name = re.sub(r"\d+", "*", key.decode(errors="replace"))
        entry = families.setdefault(name, [0, 0])
        entry[0] += 1
        entry[1] += client.memory_usage(key, samples=0) or 0
    return {name: (n, size) for name, (n, size) in sorted(families.items(),
                                                           key=lambda item: -item[1][1])}


def serve_config(workdir: Path, redis_url: str, config: Path, workers: int,
                 code: Path | None = None):
    """``botify serve`` with ``config``, logging under ``workdir/log/<config name>/``; with
    ``code``, the service imports the ``botify`` package under that directory instead."""
    log = workdir / "log" / (config.stem if code is None else f"{config.stem}-{code.name}")
    env = {"BOTIFY_CONFIG": str(config), "BOTIFY_DATA_LOG_FILE": str(log / "data.jsonl")}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return start_service(workdir, redis_url, workers, env)


def export_code(revision: str, into: Path) -> Path:
    """The ``botify`` package of git ``revision`` of this repository, exported under ``into``."""
    root = Path(__file__).resolve().parents[1]
    into.mkdir()
    archive = subprocess.run(["git", "-C", str(root), "archive", revision, "botify"],
                             capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"bench_service: --code {revision}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def mean_latency_ms(log_dir: Path) -> dict[str, float]:
    """The event log's mean ``latency`` per recommender, in ms."""
    from botify.events import LATENCY, RECOMMENDER, read_events

    events = read_events([log_dir])
    return (events.groupby(RECOMMENDER)[LATENCY].mean() * 1000).sort_values().to_dict()


def real_workload(args: argparse.Namespace, wrk: str) -> int:
    """The ``--workload real`` run (see the module docstring)."""
    from workload import TRACKS, USERS, write_workload

    cache = Path(tempfile.gettempdir()) / "botify-bench-workload"
    configs = {"ALL": write_workload(cache), "random": write_workload(cache, ["random"])}
    print(f"workload in {cache}: {TRACKS:,} tracks, {USERS:,} users; config {configs['ALL']}")
    results: dict[str, dict[int, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="botify-bench-") as tmp, EmbeddedRedis() as redis:
        workdir = Path(tmp)
        script = workdir / "next.lua"
        script.write_text(LUA % {"tracks": TRACKS, "users": USERS})
        code = export_code(args.code, workdir / "code") if args.code else None
        redis_pids = [redis._process.pid]
        client = connect(redis.url)

        def run(name, process, url, redis_pids=redis_pids):
            try:
                wait_up(url, process)
                run_wrk(wrk, url, script, 8, 1.0)  # warm-up
                results[name] = {c: measure(wrk, url, script, c, args.duration, process.pid,
                                            redis_pids) for c in args.concurrency}
                return memory(process.pid)
            finally:
                stop(process)

        # First on the empty Redis: this start loads the catalog and the artifacts.
        arms = json.loads(configs["ALL"].read_text())["EXPERIMENTS"]["BENCH"]
        processes = run(f"ALL ({len(arms)} recommenders)",
                        *serve_config(workdir, redis.url, configs["ALL"], args.workers))
        if code is not None:
            run(f"ALL, the code of {args.code}",
                *serve_config(workdir, redis.url, configs["ALL"], args.workers, code))
        run("random only", *serve_config(workdir, redis.url, configs["random"], args.workers))
        run("floor: bare Flask, same gunicorn", *start_floor(workdir, args.workers))
        started = time.perf_counter()
        process, url = serve_config(workdir, redis.url, configs["ALL"], args.workers)
        try:
            startup = first_next(url, process, started)
        finally:
            stop(process)
        per_recommender = {}
        if args.per_recommender:
            for arm in arms:
                config = write_workload(cache, [arm])
                process, url = serve_config(workdir, redis.url, config, args.workers)
                try:
                    wait_up(url, process)
                    run_wrk(wrk, url, script, 8, 1.0)
                    per_recommender[arm] = measure(wrk, url, script, 8, args.duration,
                                                   process.pid, redis_pids)
                finally:
                    stop(process)
        families = redis_families(client)
        used = client.info("memory")["used_memory"]
        latency = mean_latency_ms(workdir / "log" / configs["ALL"].stem)
        if args.redis_cluster:
            with EmbeddedCluster(args.redis_cluster) as cluster:
                run(f"ALL on a Redis Cluster of {args.redis_cluster} masters",
                    *serve_config(workdir, cluster.url, configs["ALL"], args.workers),
                    redis_pids=[node._process.pid for node in cluster.nodes])
    floor = results["floor: bare Flask, same gunicorn"]
    for name, by_c in results.items():
        report(name, by_c)
    print("\nCPU per request (service + Redis) relative to the floor")
    for name, by_c in results.items():
        cells = []
        for c, r in by_c.items():
            cpu = r["service_cpu_us"] + r["redis_cpu_us"]
            base = floor[c]["service_cpu_us"] + floor[c]["redis_cpu_us"]
            cells.append(f"c={c}: {cpu:.0f} us ({cpu / base:.2f}x)")
        print(f"  {name}: " + ", ".join(cells))
    if per_recommender:
        print("\neach recommender alone, concurrency 8")
        print(f"{'recommender':>14} {'req/s':>8} {'CPU us/req: service':>20} {'redis':>6}")
        for arm, r in per_recommender.items():
            print(f"{arm:>14} {r['rps']:>8,.0f} {r['service_cpu_us']:>20.0f} "
                  f"{r['redis_cpu_us']:>6.0f}")
    print("\nmean_request_latency per recommender in the ALL run's event log (ms)")
    for arm, ms in latency.items():
        print(f"{arm:>14} {ms:.3f}")
    print("\nmemory of the ALL service that loaded the catalog and the artifacts (MB)")
    for role, rss, uss in processes:
        print(f"  {role:>6}: RSS {rss:.0f}, USS {uss:.0f}")
    print(f"\nRedis used_memory {used / 2**20:.1f} MB; by key family (MB):")
    for family, (keys, size) in list(families.items())[:12]:
        print(f"  {size / 2**20:8.2f}  {keys:>7,} key(s)  {family}")
    print(f"\nstartup to the first 200 on POST /next (catalog already loaded): {startup:.2f} s")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
