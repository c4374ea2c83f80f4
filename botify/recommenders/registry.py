"""Recommender types by name, and building the configured recommenders of a process.

``RECOMMENDERS`` in the config maps a NAME to ``{"type": TYPE, **params}``. TYPE is a key of
:data:`RECOMMENDER_TYPES`; the class is built as ``cls(context, **params)`` (or
``cls.from_config(params, context)`` when it defines that), once per worker process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from botify.errors import ConfigError
from botify.recommenders.base import Recommender, RecommenderContext
from botify.recommenders.contextual import Contextual
from botify.recommenders.favorites import Favorites
from botify.recommenders.hybrid import Hybrid
from botify.recommenders.i2i import I2I
from botify.recommenders.indexed import Indexed
from botify.recommenders.random import Random
from botify.recommenders.sticky import StickyArtist, StickyGenre
from botify.recommenders.top_pop import TopPop

# TYPE -> class. Adding a recommender is one line here.
RECOMMENDER_TYPES: dict[str, type] = {
    "random": Random,
    "sticky_artist": StickyArtist,
    "sticky_genre": StickyGenre,
    "top_pop": TopPop,
    "indexed": Indexed,
    "contextual": Contextual,
    "i2i": I2I,
    "favorites": Favorites,
    "hybrid": Hybrid,
}


def build_one(name: str, spec: Any, context: RecommenderContext) -> Recommender:
    """Build the recommender NAME from its config entry.

    Raises:
        ConfigError: the entry is not an object, its type is unknown, or its parameters are wrong.
    """
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(f"RECOMMENDERS[{name!r}] must be an object with a \"type\"")
    kind = spec["type"]
    cls = RECOMMENDER_TYPES.get(kind)
    if cls is None:
        raise ConfigError(
            f"RECOMMENDERS[{name!r}]: unknown type {kind!r} "
            f"(known: {', '.join(sorted(RECOMMENDER_TYPES))})"
        )
    params = {key: value for key, value in spec.items() if key != "type"}
    try:
        if hasattr(cls, "from_config"):
            return cls.from_config(params, context)
        return cls(context, **params)
    except TypeError as exc:
        raise ConfigError(f"RECOMMENDERS[{name!r}] ({kind}): bad parameters: {exc}") from None


class _Recommenders(Mapping[str, Recommender]):
    """The configured recommenders by name, each built on first access (for fallbacks)."""

    def __init__(self, specs: Mapping[str, Any], context: RecommenderContext) -> None:
        self._specs = specs
        self._context = context
        self._built: dict[str, Recommender] = {}
        self._building: list[str] = []

    def __getitem__(self, name: str) -> Recommender:
        if name in self._built:
            return self._built[name]
        if name not in self._specs:
            raise ConfigError(
                f"recommender {name!r} is not configured (RECOMMENDERS: {', '.join(self._specs)})"
            )
        if name in self._building:
            cycle = " -> ".join([*self._building, name])
            raise ConfigError(f"recommenders refer to each other in a cycle: {cycle}")
        self._building.append(name)
        try:
            self._built[name] = build_one(name, self._specs[name], self._context)
        finally:
            self._building.pop()
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


def build_recommenders(
    config: Mapping[str, Any], context: RecommenderContext
) -> dict[str, Recommender]:
    """Build every recommender of ``config["RECOMMENDERS"]``.

    Args:
        config: the service configuration.
        context: what recommenders are built from; its ``recommenders`` is set to the mapping being
            built, so a recommender can name another as its fallback.

    Returns:
        NAME -> recommender.

    Raises:
        ConfigError: an entry is malformed, names an unknown type, or fallbacks form a cycle.
    """
    specs = config.get("RECOMMENDERS") or {}
    if not isinstance(specs, Mapping) or not specs:
        raise ConfigError("RECOMMENDERS must map at least one name to {\"type\": ...}")
    recommenders = _Recommenders(specs, context)
    context.recommenders = recommenders
    return {name: recommenders[name] for name in specs}
