"""Version numbers of data loaded into Redis (the catalog, artifacts) that are never reused.

Workers cache what never changes within a version, keyed by its number. A Redis that lost its data
(restarted without persistence, flushed) would hand out 1, 2, ... again, and a worker could take a
new load for one it has cached. So a counter starts from the clock, in microseconds, the first time
it is used: numbers handed out after a reset are larger than any handed out before it (a reset and
a new load take more than a microsecond; in milliseconds, a test that flushed and reloaded at once
was given the number it had just cached).
"""

from __future__ import annotations

import time

import redis


def next_version(client: redis.Redis, seq_key: str) -> int:
    """A new version number from the counter at ``seq_key`` (one round trip)."""
    pipe = client.pipeline(transaction=True)
    pipe.set(seq_key, time.time_ns() // 1_000, nx=True)
    pipe.incr(seq_key)
    return int(pipe.execute()[1])
