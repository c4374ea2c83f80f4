"""The service on a Redis Cluster: three private masters started from the same redis-server.

The API, validation and recommender contract tests run again here with the cluster as their
Redis (this module's ``redis_server`` fixture stands in for the session's single server). Then a
real ``botify serve`` on the cluster loses a master: the users whose keys live on that node get a
503 that says Redis is unreachable, the others keep their answers, and every user is served again
once the node is back (with its data, from its append-only file).
"""

from __future__ import annotations

import time

import pytest
import requests

from botify.events import FALLBACK, MESSAGE, TRACK, USER, iter_events
from botify.store import connect
from botify.store.catalog import CURRENT_KEY
from botify.store.connection import is_cluster, key_count, open_client, split_cluster_flag
from botify.store.redis_cluster import EmbeddedCluster, slot_ranges
from botify.store.redis_server import (
    EmbeddedRedis,
    free_cluster_ports,
    new_password,
)
from botify.store.sessions import session_key
from tests.botify.recommenders.test_contract import (  # noqa: F401 (run here on the cluster)
    test_every_built_in_fulfils_the_contract,
)
from tests.botify.service.serving import N_TRACKS, SERVE_CONFIG, ServeProcess
from tests.botify.service.test_api import *  # noqa: F403 (run here on the cluster)
from tests.botify.service.test_validation import *  # noqa: F403 (run here on the cluster)


@pytest.fixture(scope="module")
def redis_server():
    """A three-master cluster, for this module's tests (the imported ones included)."""
    with EmbeddedCluster(3) as cluster:
        yield cluster


def test_the_fixture_is_a_cluster_of_three_masters(redis_server, redis_client):
    assert is_cluster(redis_client)
    nodes = redis_client.cluster_nodes()
    assert sorted(int(address.rsplit(":", 1)[1]) for address in nodes) == sorted(redis_server.ports)
    assert all("master" in node["flags"] for node in nodes.values())
    keys = [session_key(user, "heard") for user in range(30)]
    for key in keys:
        redis_client.set(key, 1)
    assert {redis_server.node_of(key) for key in keys} == {0, 1, 2}  # spread over the nodes
    assert key_count(redis_client) == 30


def test_the_cluster_flag_of_a_url():
    url = "redis://:pw@127.0.0.1:7000/0"
    assert split_cluster_flag(url) == (url, False)
    assert split_cluster_flag(url + "?cluster=1") == (url, True)
    assert split_cluster_flag(url + "?cluster=no&ssl_cert_reqs=none") == (
        url + "?ssl_cert_reqs=none", False)
    with pytest.raises(Exception, match=r"REDIS_URL: cluster= takes 1/true/yes"):
        split_cluster_flag(url + "?cluster=maybe")


def test_slot_ranges_cover_every_slot_once():
    for masters in (1, 2, 3, 7):
        ranges = slot_ranges(masters)
        assert [s for r in ranges for s in r] == list(range(16384))
        assert max(map(len, ranges)) - min(map(len, ranges)) <= 1


def users_by_node(cluster: EmbeddedCluster, users: range) -> dict[int, list[int]]:
    """The users whose session keys are on each node."""
    by_node: dict[int, list[int]] = {i: [] for i in range(len(cluster.nodes))}
    for user in users:
        by_node[cluster.node_of(session_key(user, "heard"))].append(user)
    return by_node


def post(url: str, endpoint: str, user: int, track: int) -> tuple[int, dict]:
    response = requests.post(f"{url}/{endpoint}/{user}", json={"track": track, "time": 0.5},
                             timeout=5)
    return response.status_code, response.json()


def statuses(url: str, users: list[int], track: int = 5) -> set[int]:
    """The statuses of one play of each of ``users``."""
    return {post(url, "next", user, track)[0] for user in users}


UNREACHABLE = "the service's Redis is unreachable"
# Favorites keeps the user's session and likes on the user's node (and reads no artifact here).
CLUSTER_CONFIG = {
    **SERVE_CONFIG,
    "RECOMMENDERS": {"favorites": {"type": "favorites"}},
    "EXPERIMENTS": {"FAVORITES": ["favorites", "favorites"]},
    "ACTIVE_EXPERIMENT": "FAVORITES",
    "VERSION_CHECK_INTERVAL": 0,
}


@pytest.mark.parametrize("lost", ["a node of some users", "the catalog's node"])
def test_a_master_lost_and_back(lost, tracks_file, tmp_path):
    """While the catalog's node is down every play is a 503 (as with a single Redis down). While
    another is down, every play still gets a track (the random fallback where the recommender's
    reads meet the lost node, marked so in the event log), the ``/last`` of the users whose session
    is on that node is a 503, and the other users' ``/last`` is served."""
    with EmbeddedCluster(3) as cluster:
        config = {**CLUSTER_CONFIG, "REDIS_URL": cluster.url, "TRACKS_CATALOG": str(tracks_file)}
        catalog_node = cluster.node_of(CURRENT_KEY)
        victim = catalog_node if lost == "the catalog's node" else (catalog_node + 1) % 3
        by_node = users_by_node(cluster, range(60))
        everyone = sorted(u for users in by_node.values() for u in users)
        cut_off = set(by_node[victim])
        with ServeProcess(tmp_path / "serve", config, workers=2) as server:
            assert statuses(server.url, everyone) == {200}

            cluster.kill(victim)
            began = time.perf_counter()
            during = {user: post(server.url, "next", user, 8) for user in everyone}
            ends = {user: post(server.url, "last", user, 8) for user in everyone}
            seconds = time.perf_counter() - began
            print(f"\n{lost} down: {2 * len(everyone)} requests in {seconds:.2f} s")
            assert seconds < 0.1 * 2 * len(everyone), "requests waited on the dead node"
            for user in everyone:
                (status, body), (end_status, end_body) = during[user], ends[user]
                if victim == catalog_node:
                    assert (status, UNREACHABLE in body["message"]) == (503, True), body
                else:
                    assert status == 200 and body["track"] in range(N_TRACKS), body
                if victim == catalog_node or user in cut_off:
                    assert (end_status, UNREACHABLE in end_body["message"]) == (503, True), end_body
                else:
                    assert (end_status, end_body) == (200, {"user": user})

            cluster.revive(victim)
            deadline = time.monotonic() + 20
            while statuses(server.url, everyone) != {200}:
                assert time.monotonic() < deadline, "the service did not recover in 20 s"
                time.sleep(0.1)
            assert connect(cluster.url).get(CURRENT_KEY) is not None  # the catalog came back
        assert "Traceback" not in server.output
        logs = sorted((tmp_path / "serve" / "log").glob("*.jsonl*"))
        outage = [e for e in iter_events(logs) if e[TRACK] == 8
                  and e[MESSAGE] == "next"]
        if victim == catalog_node:
            assert outage == []  # refused before any work: no event
        else:
            assert sorted(e[USER] for e in outage) == everyone
            # Their keys are on the lost node: fallback. (So is anyone whose batch reads an
            # artifact or a track's likes kept there: a batch fails as a whole.)
            assert cut_off <= {e[USER] for e in outage if e[FALLBACK]}


def test_botify_redis_cluster_forms_a_cluster_of_servers(monkeypatch, capsys):
    """Three empty cluster-enabled servers (named by IP or host name) become one cluster."""
    from botify.cli import main

    password = new_password()
    nodes = [EmbeddedRedis(port, password=password, cluster=True)
             for port in free_cluster_ports(3)]
    plain = EmbeddedRedis(password=password)
    try:
        for node in (*nodes, plain):
            node.start()
        monkeypatch.setenv("REDIS_PASSWORD", password)
        assert main(["redis-cluster", "127.0.0.1:not-a-port"]) == 2
        assert "'127.0.0.1:not-a-port': give a node as HOST:PORT" in capsys.readouterr().err
        assert main(["redis-cluster", f"127.0.0.1:{plain.port}"]) != 0
        assert f"127.0.0.1:{plain.port} is not in cluster mode" in capsys.readouterr().err

        names = [f"127.0.0.1:{nodes[0].port}", f"localhost:{nodes[1].port}",
                 f"127.0.0.1:{nodes[2].port}"]
        assert main(["redis-cluster", *names]) == 0
        url = f"redis://:{password}@127.0.0.1:{nodes[0].port}/0?cluster=1"
        assert f"REDIS_URL=redis://127.0.0.1:{nodes[0].port}/0?cluster=1" in capsys.readouterr().out
        client = open_client(url)
        for user in range(30):
            client.set(session_key(user, "state"), user)
        assert key_count(client) == 30
        assert len(client.cluster_nodes()) == 3
        client.close()
        assert main(["redis-cluster", *names]) == 0  # a restart of the compose file: left as is
        assert "masters was formed already, ok" in capsys.readouterr().out
        assert key_count(open_client(url)) == 30
        assert main(["redis-cluster", names[0], names[1]]) != 0  # part of it: refused
        assert "already holds keys or slots, and is not in a cluster of these nodes" in (
            capsys.readouterr().err)
    finally:
        for node in (*nodes, plain):
            node.stop()
