"""HTTP speed of ``POST /next`` under ``botify serve`` (gunicorn, gevent workers), with wrk.

Starts a private redis-server and ``botify serve`` on free ports with a generated catalog, then
drives ``POST /next/<user>`` with varied users and tracks (a wrk Lua script) over keep-alive
connections at concurrency 1, 8 and 64, and prints requests/s and p50/p90/p99 latency.

The course's service, measured on this machine: 2,880 requests/s at concurrency 8 (gunicorn, 2
gevent workers), p99 538 ms at concurrency 64, and a 44 ms stall on every keep-alive request of its
default single-process start. Targets: >= 2x its requests/s, p99 at 64 < 25 ms, no stall at
concurrency 1.

``--baseline`` also measures the same app under Flask's own single-process server (the course's
default start), in the same run, for a like-for-like ratio.

    apt-get install -y wrk        # the load generator (Debian package)
    .venv/bin/python bench/bench_service.py [--duration 5] [--workers 2] [--baseline]
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
from botify.store.redis_server import free_port

COURSE_RPS_AT_8 = 2880
TARGET_P99_AT_64_MS = 25.0
STALL_MS = 40.0

LUA = r"""
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local tracks = %(tracks)d
request = function()
  local user = math.random(1, 100000)
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
            service_pid: int, redis_pid: int) -> dict:
    """One wrk run, with the CPU the service and Redis spent per request."""
    before = cpu_seconds([service_pid]), cpu_seconds([redis_pid])
    result = run_wrk(wrk, url, script, connections, duration)
    after = cpu_seconds([service_pid]), cpu_seconds([redis_pid])
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
    parser.add_argument("--duration", type=int, default=5, help="seconds per concurrency level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra environment of the service (e.g. BOTIFY_WORKERS=3)")
    parser.add_argument("--baseline", action="store_true",
                        help="also measure Flask's single-process server, same app, same run")
    args = parser.parse_args()
    wrk = require_wrk()
    with tempfile.TemporaryDirectory(prefix="botify-bench-") as tmp, EmbeddedRedis() as redis:
        workdir = Path(tmp)
        load_records(connect(redis.url), synthetic_records(args.tracks, args.tracks // 10, 0))
        script = workdir / "next.lua"
        script.write_text(LUA % {"tracks": args.tracks})
        extra_env = dict(item.split("=", 1) for item in args.env)
        process, url = start_service(workdir, redis.url, args.workers, extra_env)
        try:
            wait_up(url, process)
            run_wrk(wrk, url, script, 8, 1.0)  # warm-up
            redis_pid = redis._process.pid
            results = {
                c: measure(wrk, url, script, c, args.duration, process.pid, redis_pid)
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


if __name__ == "__main__":
    raise SystemExit(main())
