"""A private Redis Cluster of a few masters on loopback ports, from the same ``redis-server``.

Each node is an :class:`~botify.store.redis_server.EmbeddedRedis` in cluster mode, locked down the
same way (one random password for all of them, the reconfiguring commands renamed away). The slots
are split evenly between the masters; there are no replicas, so a node that is down takes its slots
with it until it returns (:meth:`EmbeddedCluster.kill` and :meth:`EmbeddedCluster.revive` are that
fault, for tests). :attr:`EmbeddedCluster.url` names the first node with ``?cluster=1``, which is
how :func:`botify.store.connect` is told to use a cluster client.
"""

from __future__ import annotations

import time

from botify.errors import ConfigError, StoreUnavailable
from botify.store.redis_server import (
    CLUSTER_BUS_OFFSET,
    EmbeddedRedis,
    advertise,
    advertised_url,
    discovery_file,
    free_cluster_port,
    new_password,
)

SLOTS = 16384
# How long the nodes may take to agree that every slot is served.
READY_SECONDS = 20


def slot_ranges(masters: int) -> list[range]:
    """The slots of each of ``masters`` nodes: consecutive, as even as possible."""
    bounds = [SLOTS * i // masters for i in range(masters + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(masters)]


class EmbeddedCluster:
    """A Redis Cluster of ``masters`` private nodes, for as long as the context lasts.

    Args:
        masters: how many master nodes (at least 1); the slots are split evenly between them.
        advertise: write the discovery file so other commands (``botify load``) find the cluster.

    Attributes:
        nodes: the nodes, in slot order.
        url: ``redis://:PASSWORD@127.0.0.1:PORT/0?cluster=1`` (the first node's port).
    """

    def __init__(self, masters: int = 3, advertise: bool = False) -> None:
        if masters < 1:
            raise ConfigError(f"a Redis Cluster needs at least one master, got {masters}")
        self.advertise = advertise
        self.password = new_password()
        self.nodes: list[EmbeddedRedis] = []
        for _ in range(masters):
            port = free_cluster_port()
            while any(abs(node.port - port) in (0, CLUSTER_BUS_OFFSET) for node in self.nodes):
                port = free_cluster_port()
            self.nodes.append(EmbeddedRedis(port, password=self.password, cluster=True))
        self.url = f"{self.nodes[0].url}?cluster=1"

    def _node_client(self, node: EmbeddedRedis):
        import redis

        return redis.Redis(host="127.0.0.1", port=node.port, password=self.password,
                           socket_timeout=5)

    def start(self) -> EmbeddedCluster:
        """Start the nodes, give each its slots, introduce them, and wait until every node says
        the cluster is ``ok``.

        Raises:
            StoreUnavailable: a node did not start, or the cluster was not ready in time.
        """
        try:
            for node in self.nodes:
                node.start()
            first = self._node_client(self.nodes[0])
            for node, slots in zip(self.nodes, slot_ranges(len(self.nodes)), strict=True):
                self._node_client(node).execute_command("CLUSTER", "ADDSLOTS", *slots)
                if node is not self.nodes[0]:
                    first.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
            self.wait_ready()
            if self.advertise:
                advertise(self.url)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, seconds: float = READY_SECONDS) -> None:
        """Wait until every node knows every other and says ``cluster_state:ok``.

        Raises:
            StoreUnavailable: not within ``seconds``.
        """
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if all(self._node_ready(node) for node in self.nodes):
                return
            time.sleep(0.05)
        raise StoreUnavailable(f"the Redis Cluster on ports {self.ports} was not ready within "
                               f"{seconds:g} s")

    def _node_ready(self, node: EmbeddedRedis) -> bool:
        import redis

        try:
            info = self._node_client(node).execute_command("CLUSTER", "INFO")
        except redis.RedisError:
            return False
        if isinstance(info, bytes):
            info = info.decode()
        fields = dict(line.split(":", 1) for line in info.split() if ":" in line)
        return (fields.get("cluster_state") == "ok"
                and fields.get("cluster_known_nodes") == str(len(self.nodes))
                and fields.get("cluster_slots_ok") == str(SLOTS))

    @property
    def ports(self) -> list[int]:
        """The nodes' client ports."""
        return [node.port for node in self.nodes]

    def node_of(self, key: str | bytes) -> int:
        """The index of the node that holds ``key``'s slot."""
        from redis.cluster import key_slot

        slot = key_slot(key.encode() if isinstance(key, str) else key)
        return next(i for i, slots in enumerate(slot_ranges(len(self.nodes))) if slot in slots)

    def kill(self, index: int) -> None:
        """Kill node ``index`` at once (a crash): its slots are not served until :meth:`revive`."""
        self.nodes[index].kill()

    def revive(self, index: int) -> None:
        """Start node ``index`` again after :meth:`kill`, with its data and slots, and wait until
        the cluster is ``ok`` again."""
        self.nodes[index].start()
        self.wait_ready()

    def stop(self) -> None:
        """Stop every node and remove their directories and, if advertised, the discovery file."""
        if self.advertise and advertised_url() == self.url:
            discovery_file().unlink(missing_ok=True)
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def embedded_store(cluster_masters: int = 0, advertise: bool = False):
    """A private Redis to start: one ``redis-server``, or a cluster of ``cluster_masters`` masters.

    Raises:
        ConfigError: ``cluster_masters`` is negative.
    """
    if cluster_masters < 0:
        raise ConfigError(f"--redis-cluster takes a number of masters (1 or more), got "
                          f"{cluster_masters}")
    if cluster_masters:
        return EmbeddedCluster(cluster_masters, advertise=advertise)
    return EmbeddedRedis(advertise=advertise)
