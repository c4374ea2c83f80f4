"""``botify experiment``: for now, a short scripted demo of the service over HTTP.

It starts ``botify serve`` (with its own Redis) on a small generated catalog, plays a few sessions
against it, printing each request and answer, then stops everything and shows the event log. The
full experiment loop (simulate, train, A/B test) replaces it later.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

from botify.errors import BotifyError

DEMO_CONFIG = {
    "TRACKS_CATALOG": "tracks.jsonl",
    "DATA_LOG_FILE": "log/data.jsonl",
    "RECOMMENDERS": {"random": {"type": "random"}, "sticky_artist": {"type": "sticky_artist"}},
    "EXPERIMENTS": {"STICKY_ARTIST": ["random", "sticky_artist"]},
    "ACTIVE_EXPERIMENT": "STICKY_ARTIST",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``experiment``."""
    parser = subparsers.add_parser(
        "experiment",
        help="run the demo: the service on its own Redis, a scripted session over HTTP",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--quick", action="store_true", help="fewer sessions")
    parser.add_argument("--seed", type=int, default=0, help="seed of the catalog and the script")
    parser.set_defaults(func=run_experiment)


def run_experiment(args: argparse.Namespace) -> int:
    """Handler of ``botify experiment``."""
    return demo(users=2 if args.quick else 4, seed=args.seed)


def demo(users: int = 4, seed: int = 0, out=None) -> int:
    """Start the service, play ``users`` short sessions over HTTP, stop, show the event log.

    Args:
        users: number of sessions (one per user).
        seed: seed of the generated catalog and of the listening times.
        out: where to print (stdout).

    Returns:
        0 on success.

    Raises:
        BotifyError: the service did not start.
    """
    from botify.store.catalog import synthetic_records, write_records
    from botify.store.redis_server import free_port

    out = out or sys.stdout
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="botify-demo-") as tmp:
        workdir = Path(tmp)
        write_records(workdir / "tracks.jsonl", synthetic_records(60, 8, rng))
        (workdir / "config.json").write_text(json.dumps(DEMO_CONFIG))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_") and k != "REDIS_URL"
        }
        print(f"$ botify serve --port {port}   (in {workdir}, with a 60-track catalog)", file=out)
        server = subprocess.Popen(
            [sys.executable, "-m", "botify.service.cli", "--port", str(port), "--workers", "2"],
            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            _wait_until_up(url, server)
            _play(url, users, rng, out)
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
            output, _ = server.communicate(timeout=60)
        print("\nthe service said:", file=out)
        for line in output.splitlines():
            if line.startswith("botify serve:"):
                print(f"  {line}", file=out)
        lines = (workdir / "log" / "data.jsonl").read_text().splitlines()
        events = [json.loads(line) for line in lines]
        print(f"\nevent log: {len(events)} events; the first two:", file=out)
        for event in events[:2]:
            print(f"  {json.dumps(event)}", file=out)
        print("everything stopped; the temporary directory is removed", file=out)
    return 0


def _wait_until_up(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BotifyError(f"the service exited at start:\n{server.stdout.read()}")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise BotifyError(f"the service did not answer within {timeout:.0f} s")


def _show(method: str, path: str, body, response: requests.Response, out) -> None:
    sent = f" {json.dumps(body)}" if body is not None else ""
    print(f"{method} {path}{sent} -> {response.status_code} {response.text.strip()}", file=out)


def _play(url: str, users: int, rng: np.random.Generator, out) -> None:
    http = requests.Session()
    for path in ("/", "/health", "/track/7"):
        _show("GET", path, None, http.get(url + path, timeout=5), out)
    bad = {"track": "x", "time": 0.5}
    _show("POST", "/next/1", bad, http.post(f"{url}/next/1", json=bad, timeout=5), out)
    for user in range(1, users + 1):
        print(f"\n-- session of user {user}", file=out)
        track, listened = int(rng.integers(60)), 1.0
        for _ in range(int(rng.integers(3, 6))):
            body = {"track": track, "time": listened}
            response = http.post(f"{url}/next/{user}", json=body, timeout=5)
            _show("POST", f"/next/{user}", body, response, out)
            response.raise_for_status()
            track, listened = response.json()["track"], round(float(rng.uniform()), 2)
        body = {"track": track, "time": listened}
        response = http.post(f"{url}/last/{user}", json=body, timeout=5)
        _show("POST", f"/last/{user}", body, response, out)
