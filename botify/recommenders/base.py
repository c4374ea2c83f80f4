"""The contract every recommender fulfils, and what it is built from.

A recommender is constructed once per worker process from its config entry and a
:class:`RecommenderContext`, then asked ``recommend_next`` on every ``/next`` request. Everything it
remembers between requests lives in Redis (so any number of workers and instances agree), and it
never raises into the request: missing data means its fallback. One that promises never to recommend
a track already played in the session says so with a true ``no_repeats`` attribute (a class
attribute, or a property when it depends on the parameters). :mod:`botify.recommenders.contract`
checks all this against any recommender type.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import redis


class Recommender(Protocol):
    """Picks the next track for a user."""

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """The next track for ``user``, who listened to ``prev_track`` for ``prev_time`` (0..1)."""
        ...


class Catalog(Protocol):
    """Read access to the tracks catalog in Redis (implemented in ``botify.store.catalog``)."""

    def random_track(self, rng: np.random.Generator) -> int:
        """A uniformly random track id of the catalog."""
        ...

    def artist_tracks(self, track: int) -> Sequence[int]:
        """The ids of all tracks by the artist of ``track`` (empty if ``track`` is unknown)."""
        ...

    def genre_tracks(self, track: int) -> Sequence[int]:
        """The ids of all tracks of the genre of ``track`` (empty if unknown or without genre)."""
        ...

    def contains(self, track: int) -> bool:
        """Whether ``track`` is in the catalog."""
        ...

    def known(self, tracks: Iterable[int], exclude: Collection[int] = ()) -> list[int]:
        """The ``tracks`` that are in the catalog and not in ``exclude``, in their order."""
        ...


@dataclass
class RecommenderContext:
    """What recommenders are built from.

    Attributes:
        redis: the process's Redis client.
        catalog: the tracks catalog.
        config: the whole service configuration (``SESSION_TTL`` etc.).
        rng: this process's random generator.
        recommenders: the other configured recommenders by name, for fallbacks (built on demand).
    """

    redis: redis.Redis
    catalog: Catalog
    config: Mapping[str, Any]
    rng: np.random.Generator
    recommenders: Mapping[str, Recommender] = field(default_factory=dict)
