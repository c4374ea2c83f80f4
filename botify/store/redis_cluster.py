"""A private Redis Cluster of a few masters on loopback ports, from the same ``redis-server``.

Each node is an :class:`~botify.store.redis_server.EmbeddedRedis` in cluster mode, locked down the
same way (one random password for all of them, the reconfiguring commands renamed away). The slots
are split evenly between the masters; there are no replicas, so a node that is down takes its slots
with it until it returns (:meth:`EmbeddedCluster.kill` and :meth:`EmbeddedCluster.revive` are that
fault, for tests). :attr:`EmbeddedCluster.url` names the first node with ``?cluster=1``, which is
how :func:`botify.store.connect` is told to use a cluster client.
"""

from __future__ import annotations

import socket
import time

from botify.errors import ConfigError, StoreUnavailable
from botify.store.redis_server import (
    EmbeddedRedis,
    advertise,
    advertised_url,
    discovery_file,
    free_cluster_ports,
    new_password,
)

SLOTS = 16384
# How long the nodes may take to agree that every slot is served.
READY_SECONDS = 20


def _node(host: str, port: int, password: str | None):
    import redis

    return redis.Redis(host=host, port=port, password=password, socket_timeout=5,
                       socket_connect_timeout=2)


def form_cluster(addresses: list[tuple[str, int]], password: str | None = None,
                 seconds: float = READY_SECONDS) -> bool:
    """Make the empty, cluster-enabled Redis servers at ``addresses`` one cluster of masters: the
    slots split evenly (:func:`slot_ranges`), every node introduced to the first by its IP
    address (``CLUSTER MEET`` takes no host names), then wait until every node says ``ok``.

    Returns:
        True when it formed the cluster; False when these nodes were one cluster already.

    Raises:
        StoreUnavailable: a node does not answer or is not in cluster mode, a node already holds
            keys or slots (and the nodes are not one cluster), or the cluster was not ready
            within ``seconds``.
    """
    import redis

    if _ready(addresses, password):
        return False
    clients = [_node(host, port, password) for host, port in addresses]
    try:
        for (host, port), client, slots in zip(addresses, clients, slot_ranges(len(addresses)),
                                               strict=True):
            where = f"{host}:{port}"
            try:
                if not client.info("cluster").get("cluster_enabled"):
                    raise StoreUnavailable(f"{where} is not in cluster mode "
                                           "(start it with cluster-enabled yes)")
                if client.dbsize() or _info(client).get("cluster_slots_assigned") != "0":
                    raise StoreUnavailable(f"{where} already holds keys or slots, and is not "
                                           "in a cluster of these nodes: give empty nodes")
                client.execute_command("CLUSTER", "ADDSLOTS", *slots)
                if client is not clients[0]:
                    clients[0].execute_command("CLUSTER", "MEET", socket.gethostbyname(host),
                                               port)
            except (redis.RedisError, OSError) as exc:
                raise StoreUnavailable(f"{where}: {exc}") from None
    finally:
        for client in clients:
            client.close()
    wait_ready(addresses, password, seconds)
    return True


def _info(client) -> dict[str, str]:
    """``CLUSTER INFO`` as a dict."""
    info = client.execute_command("CLUSTER", "INFO")
    if isinstance(info, bytes):
        info = info.decode()
    return dict(line.split(":", 1) for line in info.split() if ":" in line)


def _ready(addresses: list[tuple[str, int]], password: str | None) -> bool:
    """Whether every node knows every other and says ``cluster_state:ok``, every slot served."""
    import redis

    for host, port in addresses:
        client = _node(host, port, password)
        try:
            fields = _info(client)
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()
        if (fields.get("cluster_state") != "ok"
                or fields.get("cluster_known_nodes") != str(len(addresses))
                or fields.get("cluster_slots_ok") != str(SLOTS)):
            return False
    return True


def wait_ready(addresses: list[tuple[str, int]], password: str | None = None,
               seconds: float = READY_SECONDS) -> None:
    """Wait until the nodes are one cluster, ``ok`` on every node.

    Raises:
        StoreUnavailable: not within ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while not _ready(addresses, password):
        if time.monotonic() > deadline:
            nodes = ", ".join(f"{host}:{port}" for host, port in addresses)
            raise StoreUnavailable(f"the Redis Cluster of {nodes} was not ready within "
                                   f"{seconds:g} s")
        time.sleep(0.05)


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
        self.nodes = [EmbeddedRedis(port, password=self.password, cluster=True)
                      for port in free_cluster_ports(masters)]
        self.url = f"{self.nodes[0].url}?cluster=1"

    def start(self) -> EmbeddedCluster:
        """Start the nodes and form the cluster (:func:`form_cluster`).

        Raises:
            StoreUnavailable: a node did not start, or the cluster was not ready in time.
        """
        try:
            for node in self.nodes:
                node.start()
            form_cluster(self.addresses, self.password)
            if self.advertise:
                advertise(self.url)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The nodes' ``(host, port)``."""
        return [("127.0.0.1", node.port) for node in self.nodes]

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
        wait_ready(self.addresses, self.password)

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


def check_masters(masters: int) -> None:
    """Raises ConfigError unless ``masters`` (``--redis-cluster``) is 0 (none) or more."""
    if masters < 0:
        raise ConfigError(f"--redis-cluster takes a number of masters (1 or more), got {masters}")


def embedded_store(cluster_masters: int = 0, advertise: bool = False):
    """A private Redis to start: one ``redis-server`` (0), or a cluster of ``cluster_masters``
    masters.

    Raises:
        ConfigError: ``cluster_masters`` is negative.
    """
    if cluster_masters:
        return EmbeddedCluster(cluster_masters, advertise=advertise)
    return EmbeddedRedis(advertise=advertise)
