"""Random: a uniformly random track of the catalog (the course's control)."""

from __future__ import annotations

from typing import Any

from botify.recommenders.base import RecommenderContext


class Random:
    """Recommends a uniformly random track of the catalog.

    Args:
        context: the catalog and this process's random generator.
        params: none are declared.
    """

    type_name = "random"

    def __init__(self, context: RecommenderContext, params: Any = None) -> None:
        self.catalog = context.catalog
        self.rng = context.rng

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """A random track, whatever the user and the previous track."""
        return self.catalog.random_track(self.rng)
