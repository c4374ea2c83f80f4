"""Building the configured recommenders of a process, and checking a configuration of them.

``RECOMMENDERS`` maps a NAME to ``{"type": TYPE, **params}``. TYPE is a built-in type, an installed
plugin or an import path ``module:Class`` (see :mod:`botify.registry`); the params override the
defaults the type declares (its ``Params``). Every built-in type is also configured under its own
name with its defaults, so ``RECOMMENDERS`` in a config only adds instances or overrides them.
A recommender is built as ``cls(context, params)``, once per worker process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botify import params as declared_params
from botify.errors import ConfigError
from botify.recommenders.base import Recommender, RecommenderContext
from botify.registry import RECOMMENDER_TYPES


@dataclass(frozen=True)
class Spec:
    """A configured recommender, checked: its class and its parsed parameters."""

    name: str
    type: str
    cls: type
    params: Any

    @property
    def artifacts(self) -> dict[str, str]:
        """Artifact name -> kind, of the artifacts it reads."""
        return declared_params.artifacts(self.params)

    @property
    def refers_to(self) -> list[str]:
        """The other recommenders it names (fallbacks)."""
        return declared_params.recommender_refs(self.params)


def configured(config: Mapping[str, Any]) -> dict[str, Any]:
    """``RECOMMENDERS`` as served: every built-in type under its own name, then the config's."""
    specs = config.get("RECOMMENDERS") or {}
    if not isinstance(specs, Mapping):
        raise ConfigError("RECOMMENDERS must map names to {\"type\": ...}")
    return {**{name: {"type": name} for name in RECOMMENDER_TYPES.builtins}, **specs}


def parse_spec(name: str, spec: Any, where: str | None = None) -> Spec:
    """Check one entry: its type resolves and its parameters match the declaration.

    Raises:
        ConfigError: naming the entry (``where``, default ``RECOMMENDERS['NAME']``).
    """
    where = where or f"RECOMMENDERS[{name!r}]"
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(f"{where} must be an object with a \"type\"")
    cls = RECOMMENDER_TYPES.get(spec["type"], where)
    values = {key: value for key, value in spec.items() if key != "type"}
    declaration = declared_params.declared(cls)
    parsed = declared_params.parse(declaration, values, f"{where} ({spec['type']})")
    return Spec(name, spec["type"], cls, parsed)


def check_specs(specs: Mapping[str, Any], where: str = "RECOMMENDERS") -> dict[str, Spec]:
    """Check every entry and that the recommenders they refer to are configured.

    Raises:
        ConfigError: naming the entry and the problem.
    """
    parsed = {name: parse_spec(name, spec, f"{where}[{name!r}]") for name, spec in specs.items()}
    for spec in parsed.values():
        for other in spec.refers_to:
            if other not in parsed:
                raise ConfigError(f"{where}[{spec.name!r}] ({spec.type}): refers to {other!r}, "
                                  "which is not a configured recommender")
    return parsed


class _Recommenders(Mapping[str, Recommender]):
    """The configured recommenders by name, each built on first access (for fallbacks)."""

    def __init__(self, specs: Mapping[str, Spec], context: RecommenderContext) -> None:
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
        spec = self._specs[name]
        self._building.append(name)
        try:
            self._built[name] = spec.cls(self._context, spec.params)
        except ConfigError:
            raise
        except Exception as exc:  # a plugin's constructor failing is a configuration problem
            raise ConfigError(f"RECOMMENDERS[{name!r}] ({spec.type}): cannot be built "
                              f"({type(exc).__name__}: {exc})") from None
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
    """Build every configured recommender (see :func:`configured`).

    Args:
        config: the service configuration.
        context: what recommenders are built from; its ``recommenders`` is set to the mapping being
            built, so a recommender can name another as its fallback.

    Returns:
        NAME -> recommender.

    Raises:
        ConfigError: an entry is malformed, names an unknown type or parameter, or fallbacks form
            a cycle.
    """
    specs = check_specs(configured(config))
    recommenders = _Recommenders(specs, context)
    context.recommenders = recommenders
    return {name: recommenders[name] for name in specs}
