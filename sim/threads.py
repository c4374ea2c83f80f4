"""Keeping BLAS single-threaded around the simulator's small matrix products.

The simulator's products (one taste against the catalog, a few dozen queries for nearest tracks)
are too small to gain from threads, and on a busy machine OpenBLAS's spinning threads make them
ten times slower; every process of a multi-process run is one thread of work anyway.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def single_threaded_blas() -> threadpool_limits:
    """A context manager limiting BLAS to one thread inside it."""
    return threadpool_limits(limits=1, user_api="blas")
