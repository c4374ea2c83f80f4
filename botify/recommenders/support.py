"""What the recommenders share: their fallbacks, their session state, picking unheard tracks."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import numpy as np

from botify.errors import ConfigError
from botify.recommenders.base import Catalog, Recommender, RecommenderContext
from botify.store.artifacts import ArtifactReader
from botify.store.sessions import SessionStore

# Random draws tried before giving up on avoiding the session's tracks.
RANDOM_TRIES = 32


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


def fallback(context: RecommenderContext, name: str | None) -> Recommender:
    """The configured recommender ``name`` (resolved now, so a misnamed fallback fails at startup),
    or a random track when None.

    Raises:
        ConfigError: the name is not a configured recommender.
    """
    if name is None:
        return RandomTrack(context.catalog, context.rng)
    try:
        return context.recommenders[name]
    except KeyError:
        raise ConfigError(f"fallback {name!r} is not a configured recommender") from None


def session_store(context: RecommenderContext) -> SessionStore:
    """The session store with the configured ``SESSION_TTL``."""
    return SessionStore(int(context.config.get("SESSION_TTL", 3600)))


# The attribute of a Redis client that holds its artifact readers (check interval -> reader): they
# go away with the client.
READERS_ATTRIBUTE = "_botify_artifact_readers"


def artifact_reader(context: RecommenderContext) -> ArtifactReader:
    """The artifact reader over the context's Redis, checking versions as often as configured.

    Every recommender on the same client shares it, so they all move to a reloaded version at once:
    one decoded ranking per name serves them all, instead of readers on the old and on the new
    version each decoding theirs in turn until both have seen the reload.
    """
    interval = float(context.config.get("VERSION_CHECK_INTERVAL", 0))
    readers = vars(context.redis).setdefault(READERS_ATTRIBUTE, {})
    if interval not in readers:
        readers[interval] = ArtifactReader(context.redis, interval)
    return readers[interval]


class SessionRecommender:
    """What the recommenders that remember the session are built with.

    ``catalog``, ``rng`` and ``redis`` from the context; ``reader`` for the artifacts;
    ``sessions``, the session store; ``random``, the last resort; ``fallback``, the recommender
    named by the ``fallback`` parameter; ``params``, the declared parameters as configured.
    """

    def __init__(self, context: RecommenderContext, params: Any) -> None:
        self.params = params
        self.catalog = context.catalog
        self.rng = context.rng
        self.redis = context.redis
        self.reader = artifact_reader(context)
        self.sessions = session_store(context)
        self.random = RandomTrack(context.catalog, context.rng)
        self.fallback = fallback(context, params.fallback)


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
    pool = catalog.known(candidates, exclude)
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
