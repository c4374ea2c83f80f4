"""What the recommenders share: their parameters, their fallbacks, picking unheard tracks."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np

from botify.errors import ConfigError
from botify.recommenders.base import Catalog, Recommender, RecommenderContext
from botify.store.artifacts import ArtifactReader
from botify.store.sessions import SessionStore

# Random draws tried before giving up on avoiding the session's tracks.
RANDOM_TRIES = 32


class Params:
    """A recommender's config entry, read with types checked (errors name the recommender)."""

    def __init__(self, kind: str, params: Mapping[str, Any]) -> None:
        self.kind = kind
        self.params = dict(params)
        self._read: set[str] = set()

    def _fail(self, key: str, why: str) -> ConfigError:
        return ConfigError(f"a {self.kind!r} recommender: parameter {key!r} {why}")

    def get(self, key: str, default: Any) -> Any:
        """The raw value of ``key`` (``default`` when absent)."""
        self._read.add(key)
        return self.params.get(key, default)

    def check_unknown(self) -> None:
        """Fail on parameters that were never read (a typo would otherwise be silently ignored).

        Raises:
            ConfigError: naming the unknown parameters.
        """
        unknown = sorted(set(self.params) - self._read)
        if unknown:
            raise ConfigError(
                f"a {self.kind!r} recommender: unknown parameters {unknown} "
                f"(known: {sorted(self._read)})"
            )

    def text(self, key: str, default: str | None = None) -> str | None:
        """A string parameter (``None`` when absent and no default)."""
        value = self.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, f"must be a string, got {value!r}")
        return value

    def number(
        self, key: str, default: float, low: float | None = None, high: float | None = None
    ) -> float:
        """A number parameter, checked against ``[low, high]``."""
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, f"must be a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self._fail(key, f"must be in [{low}, {high}], got {value!r}")
        return float(value)

    def integer(self, key: str, default: int, low: int = 1) -> int:
        """An integer parameter, at least ``low``."""
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self._fail(key, f"must be an integer >= {low}, got {value!r}")
        return value

    def choice(self, key: str, default: str, options: Collection[str]) -> str:
        """A string parameter among ``options``."""
        value = self.get(key, default)
        if value not in options:
            raise self._fail(key, f"must be one of {sorted(options)}, got {value!r}")
        return value


class RandomTrack:
    """The last resort: a uniformly random catalog track, avoiding ``exclude`` when it can."""

    def __init__(self, catalog: Catalog, rng: np.random.Generator) -> None:
        self.catalog = catalog
        self.rng = rng

    def pick(self, exclude: Collection[int] = ()) -> int:
        """A random track not in ``exclude`` (after :data:`RANDOM_TRIES` misses, any track)."""
        track = self.catalog.random_track(self.rng)
        for _ in range(RANDOM_TRIES):
            if track not in exclude:
                break
            track = self.catalog.random_track(self.rng)
        return track

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """A uniformly random track of the catalog."""
        return self.catalog.random_track(self.rng)


def fallback(context: RecommenderContext, params: Params, key: str = "fallback") -> Recommender:
    """The recommender named by parameter ``key``, or a random track when none is named.

    Raises:
        ConfigError: the name is not a configured recommender.
    """
    name = params.text(key)
    if name is None:
        return RandomTrack(context.catalog, context.rng)
    try:
        return context.recommenders[name]
    except KeyError:
        raise ConfigError(
            f"a {params.kind!r} recommender: {key} {name!r} is not a configured recommender"
        ) from None


def session_store(context: RecommenderContext) -> SessionStore:
    """The session store with the configured ``SESSION_TTL``."""
    return SessionStore(int(context.config.get("SESSION_TTL", 3600)))


def artifact_reader(context: RecommenderContext) -> ArtifactReader:
    """An artifact reader over the context's Redis."""
    return ArtifactReader(context.redis)


class SessionRecommender:
    """What the recommenders that remember the session are built with.

    ``catalog``, ``rng`` and ``redis`` from the context; ``reader`` for the artifacts;
    ``sessions``, the session store; ``random``, the last resort; ``fallback``, the recommender
    named by the ``fallback`` parameter. A subclass reads its own parameters, calls this, then
    ``params.check_unknown()``.
    """

    def __init__(self, context: RecommenderContext, params: Params) -> None:
        self.catalog = context.catalog
        self.rng = context.rng
        self.redis = context.redis
        self.reader = artifact_reader(context)
        self.sessions = session_store(context)
        self.random = RandomTrack(context.catalog, context.rng)
        self.fallback = fallback(context, params)


def first_new(candidates: Iterable[int], exclude: Collection[int], catalog: Catalog) -> int | None:
    """The first candidate that is in the catalog and not in ``exclude``."""
    for track in candidates:
        if track not in exclude and catalog.contains(track):
            return track
    return None


def random_new(
    candidates: Iterable[int], exclude: Collection[int], catalog: Catalog, rng: np.random.Generator
) -> int | None:
    """A uniformly random candidate that is in the catalog and not in ``exclude``."""
    pool = [t for t in candidates if t not in exclude and catalog.contains(t)]
    if not pool:
        return None
    return pool[int(rng.integers(len(pool)))]


def last_resort(
    fallback_recommender: Recommender,
    random_track: RandomTrack,
    user: int,
    prev_track: int,
    prev_time: float,
    exclude: Collection[int],
) -> int:
    """Ask the fallback; if it answers a track of ``exclude``, a random unheard track instead."""
    track = fallback_recommender.recommend_next(user, prev_track, prev_time)
    if track in exclude:
        track = random_track.pick(exclude)
    return track
