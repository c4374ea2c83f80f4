"""Deployment files: no Docker engine here, so the files are parsed and checked, and the image's
entrypoint command is run as it is, with the project's gunicorn, against a real Redis."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from botify.events import iter_events
from botify.service import gunicorn_conf
from botify.store.catalog import synthetic_records, write_records
from botify.store.connection import open_client
from botify.store.redis_server import free_cluster_ports, free_port, redis_server_binary

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_compose_services_ports_and_build(compose):
    services = compose["services"]
    # Prometheus only with --profile metrics.
    assert {name for name, s in services.items() if not s.get("profiles")} == {
        "redis", "recommender", "nginx"}
    recommender = services["recommender"]
    assert recommender["build"] == "."
    # Scalable with --scale: no fixed container name, no host port.
    assert "container_name" not in recommender and "ports" not in recommender
    # The single redis unless BOTIFY_REDIS_URL says otherwise (the cluster profile).
    assert recommender["environment"]["BOTIFY_REDIS_URL"] == (
        "${BOTIFY_REDIS_URL:-redis://redis:6379/0}")
    assert "5001" in [str(p) for p in recommender["expose"]]
    assert services["nginx"]["ports"] == ["5001:5001"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert services["recommender"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["redis"]["image"].startswith("redis:")


def test_compose_cluster_profile_forms_a_cluster_the_replicas_wait_for(compose, tmp_path):
    """The profile's nodes, run here with the project's redis-server and the node command line
    of the compose file, become a cluster by the init service's command (its host names pointed
    at the local nodes), and the URL the file's header gives reaches it."""
    services = compose["services"]
    nodes = [name for name, s in services.items() if name.startswith("redis-node-")]
    assert nodes == ["redis-node-1", "redis-node-2", "redis-node-3"]
    init = services["redis-cluster"]
    for name in (*nodes, "redis-cluster"):
        assert services[name]["profiles"] == ["cluster"]
    assert init["depends_on"] == {n: {"condition": "service_healthy"} for n in nodes}
    assert services["recommender"]["depends_on"]["redis-cluster"] == {
        "condition": "service_completed_successfully", "required": False}
    assert init["entrypoint"][:2] == ["botify", "redis-cluster"]
    assert init["entrypoint"][2:] == [f"{n}:6379" for n in nodes]
    header = (ROOT / "docker-compose.yml").read_text().split("services:")[0]
    url = re.search(r"BOTIFY_REDIS_URL='(redis://redis-node-1:6379/0\?cluster=1)'", header)
    assert url and "--profile cluster up" in header
    assert len({str(services[n]["volumes"]) for n in nodes}) == 3  # a volume each

    command = services["redis-node-1"]["command"]
    assert command[0] == "redis-server"
    ports = free_cluster_ports(3)
    processes = [subprocess.Popen(
        [redis_server_binary(), *command[1:], "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(tmp_path), "--cluster-config-file", f"nodes-{port}.conf",
         "--appendfilename", f"aof-{port}.aof", "--save", "", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in ports]
    try:
        argv = [init["entrypoint"][1], *(f"127.0.0.1:{port}" for port in ports)]
        deadline = time.monotonic() + 10
        while True:
            done = subprocess.run([str(Path(sys.executable).parent / "botify"), *argv],
                                  capture_output=True, text=True, timeout=60)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # the nodes still starting
        assert done.returncode == 0, done.stderr
        assert "Redis Cluster of 3 masters formed, ok" in done.stdout
        client = open_client(url.group(1).replace("redis-node-1:6379", f"127.0.0.1:{ports[0]}"))
        client.set("{1}:x", 1)
        assert len(client.cluster_nodes()) == 3 and client.get("{1}:x") == b"1"
        client.close()
    finally:
        for process in processes:
            process.kill()
            process.wait()


def test_nginx_balances_the_replicas():
    conf = (ROOT / "nginx.conf").read_text()
    assert re.search(r"listen\s+5001;", conf)
    assert re.search(r"server\s+recommender:5001\b", conf)
    assert re.search(r"proxy_pass\s+http://botify;", conf)
    idle = int(re.search(r"keepalive_timeout\s+(\d+)s;", conf).group(1))
    assert idle < gunicorn_conf.keepalive, "nginx must drop idle upstream connections first"
    assert conf.count("{") == conf.count("}")


def test_prometheus_scrapes_every_replica(compose):
    prometheus = compose["services"]["prometheus"]
    assert prometheus["profiles"] == ["metrics"]
    assert prometheus["image"].startswith("prom/prometheus:")
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    config = yaml.safe_load((ROOT / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    [dns] = job["dns_sd_configs"]
    # Every replica by Docker's DNS, on the port the service exposes (not nginx's balancing).
    assert dns["names"] == ["recommender"] and dns["type"] == "A"
    assert str(dns["port"]) in [str(p) for p in compose["services"]["recommender"]["expose"]]


def test_dockerfile_base_user_and_entrypoint():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    for op, arg in instructions:
        if op == "COPY":
            for source in arg.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    entrypoint = json.loads(dict(instructions)["ENTRYPOINT"])
    assert entrypoint[0] == "gunicorn"
    assert "python:botify.service.gunicorn_conf" in entrypoint


def test_image_entrypoint_serves(redis_server, redis_client, tmp_path):
    """The image's ENTRYPOINT, run as is: loads the catalog, serves, flushes its log on SIGTERM."""
    entrypoint = json.loads(dict(dockerfile_instructions())["ENTRYPOINT"])
    command = [str(Path(sys.executable).parent / entrypoint[0]), *entrypoint[1:]]
    tracks = write_records(tmp_path / "tracks.jsonl", synthetic_records(50, 5, rng=0))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTIFY_")}
    env.update({
        "BOTIFY_BIND": f"127.0.0.1:{port}",
        "BOTIFY_WORKERS": "2",
        "BOTIFY_REDIS_URL": redis_server.url,
        "BOTIFY_TRACKS_CATALOG": str(tracks),
        "BOTIFY_DATA_LOG_FILE": str(tmp_path / "log" / "data.jsonl"),
    })
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read()
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        health = requests.get(f"{url}/health", timeout=5).json()
        assert health["catalog"]["tracks"] == 50
        for user in range(20):
            body = {"track": 7, "time": 1.0}
            response = requests.post(f"{url}/next/{user}", json=body, timeout=5)
            assert response.status_code == 200
        # /metrics sums the two workers (the master set up prometheus_client's directory).
        for _ in range(3):
            scraped = requests.get(f"{url}/metrics", timeout=5).text
            assert 'botify_requests_total{endpoint="/next/<user>",status="200"} 20.0' in scraped
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "50 tracks" in output
    metrics_dir = re.search(r"the workers' files in (\S+)", output).group(1)
    assert not Path(metrics_dir).exists()
    assert len(list(iter_events([tmp_path / "log"]))) == 20
