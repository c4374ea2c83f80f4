"""Parameters declared once: a frozen dataclass per recommender or model, read from config entries.

A class declares its parameters as a nested ``Params`` dataclass whose fields come from
:func:`param` (default, one-line description, range, choices, and whether the value names an
artifact or another recommender)::

    @dataclass(frozen=True)
    class Params:
        recs: str = param("i2i_cooc", "per-track lists to recommend from", artifact=PER_TRACK)
        recent: int = param(10, "recent listens an anchor is drawn from", low=1)

``config.json`` and plans only override these defaults; :func:`parse` checks an entry against the
declaration (unknown names, types, ranges); :func:`markdown_table` renders the declarations for the
README (``python -m botify.params`` prints the
built-in recommenders' table).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from botify.errors import ConfigError


def param(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: Collection[str] | None = None,
    artifact: str | None = None,
    recommender: bool = False,
) -> Any:
    """A declared parameter: a dataclass field with its description and checks.

    Args:
        default: the value when the config does not set it.
        help: one line saying what it does.
        low, high: the allowed range of a number.
        choices: the allowed values of a string.
        artifact: the value names an artifact of this kind (``ranking``, ``per_track``,
            ``per_user``) that the recommender reads.
        recommender: the value names another configured recommender (a fallback).
    """
    metadata = {
        "help": help, "low": low, "high": high, "choices": tuple(choices) if choices else None,
        "artifact": artifact, "recommender": recommender,
    }
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class NoParams:
    """The parameters of a class that declares none."""


def declared(cls: type) -> type:
    """The ``Params`` dataclass of ``cls`` (:class:`NoParams` when it declares none).

    Raises:
        ConfigError: ``Params`` is not a dataclass.
    """
    params = getattr(cls, "Params", NoParams)
    if not dataclasses.is_dataclass(params):
        raise ConfigError(f"{cls.__name__}.Params must be a dataclass")
    return params


def _types(params: type) -> dict[str, Any]:
    return typing.get_type_hints(params)


def _accepts(kind: Any, value: Any) -> bool:
    """Whether ``value`` is of the declared type (``int`` for ``float`` too, never a bool)."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return any(_accepts(k, value) for k in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float)
    if kind in (int, str):
        return isinstance(value, kind)
    origin = typing.get_origin(kind) or kind
    return isinstance(value, origin)


def _type_name(kind: Any) -> str:
    return str(kind).replace("typing.", "") if not isinstance(kind, type) else kind.__name__


def parse(params: type, values: Mapping[str, Any], where: str) -> Any:
    """An instance of the ``params`` dataclass from a config entry's values.

    Args:
        params: the declaration.
        values: the entry's parameters (``type`` already removed).
        where: names the entry in messages (``RECOMMENDERS['i2i'] (i2i)``).

    Raises:
        ConfigError: an unknown parameter, a value of the wrong type or out of range.
    """
    fields = {f.name: f for f in dataclasses.fields(params)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        raise ConfigError(f"{where}: unknown parameter(s) {', '.join(unknown)} (known: {known})")
    try:
        hints = _types(params)
    except Exception as exc:  # a plugin's annotations that do not resolve
        raise ConfigError(f"{where}: its Params cannot be read ({type(exc).__name__}: {exc})"
                          ) from None
    for name, value in values.items():
        kind, meta = hints[name], fields[name].metadata
        if not _accepts(kind, value):
            raise ConfigError(f"{where}: parameter {name!r} must be {_type_name(kind)}, got "
                              f"{value!r}")
        low, high = meta.get("low"), meta.get("high")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: parameter {name!r} must be a finite number, got {value!r}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
                raise ConfigError(f"{where}: parameter {name!r} must be in {bounds}, got {value!r}")
        choices = meta.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"{where}: parameter {name!r} must be one of "
                              f"{', '.join(map(repr, choices))}, got {value!r}")
    try:
        return params(**values)
    except Exception as exc:  # a plugin's Params that needs a value or checks its own
        raise ConfigError(f"{where}: {type(exc).__name__}: {exc}") from None


def artifacts(instance: Any) -> dict[str, str]:
    """Artifact name -> kind, of the parameters that name artifacts (set, not None)."""
    found = {}
    for field in dataclasses.fields(instance):
        kind = field.metadata.get("artifact")
        value = getattr(instance, field.name)
        if kind and value:
            found[value] = kind
    return found


def recommender_refs(instance: Any) -> list[str]:
    """The names of other recommenders the parameters refer to (set, not None)."""
    return [
        getattr(instance, f.name) for f in dataclasses.fields(instance)
        if f.metadata.get("recommender") and getattr(instance, f.name)
    ]


# The README's table of the built-in recommenders' parameters sits between these two lines.
TABLE_START = "<!-- recommender-params:start -->"
TABLE_END = "<!-- recommender-params:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(field: dataclasses.Field, kind: Any) -> str:
    """What a parameter takes: its type, then its range, choices, or what it names."""
    meta = field.metadata
    parts = [f"`{_type_name(kind)}`"]
    low, high = meta.get("low"), meta.get("high")
    if low is not None and high is not None:
        parts.append(f"in [{low:g}, {high:g}]")
    elif low is not None:
        parts.append(f">= {low:g}")
    elif high is not None:
        parts.append(f"<= {high:g}")
    if meta.get("choices"):
        parts.append("one of " + ", ".join(f"`{json.dumps(c)}`" for c in meta["choices"]))
    if meta.get("artifact"):
        parts.append(f"a {meta['artifact']} artifact")
    if meta.get("recommender"):
        parts.append("a recommender")
    return ", ".join(parts)


def _default(field: dataclasses.Field) -> str:
    """A parameter's default as JSON (``null`` for None), as a config entry would set it."""
    default = field.default
    if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    try:
        return json.dumps(default)
    except TypeError:
        return repr(default)


def markdown_table(classes: Mapping[str, type]) -> str:
    """The declared parameters of ``classes`` (name -> class) as a Markdown table: one row per
    parameter (type, parameter, what it takes, its default in JSON, its description), a class
    without parameters one row saying so."""
    lines = [
        "| type | parameter | value | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, cls in classes.items():
        declaration = declared(cls)
        hints = _types(declaration)
        fields = dataclasses.fields(declaration)
        if not fields:
            lines.append(f"| `{name}` | | | | no parameters |")
        for i, field in enumerate(fields):
            cells = [
                f"`{name}`" if i == 0 else "",
                f"`{field.name}`",
                _value(field, hints[field.name]),
                f"`{_default(field)}`",
                field.metadata.get("help", ""),
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def recommender_table() -> str:
    """:func:`markdown_table` of every built-in recommender type, as the README shows it."""
    from botify.registry import RECOMMENDER_TYPES

    return markdown_table(dict(sorted(RECOMMENDER_TYPES.builtins.items())))


def replace_table(text: str, table: str) -> str:
    """``text`` (the README) with ``table`` between :data:`TABLE_START` and :data:`TABLE_END`.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"no {TABLE_START} ... {TABLE_END} in the text")
    head = text[: start + len(TABLE_START)]
    return f"{head}\n{table}{text[end:]}"


if __name__ == "__main__":
    # ``python -m botify.params`` prints the README's table of the recommenders' parameters;
    # ``python -m botify.params README.md`` writes it there, between the markers.
    import sys
    from pathlib import Path

    if len(sys.argv) > 1:
        readme = Path(sys.argv[1])
        readme.write_text(replace_table(readme.read_text(), recommender_table()))
    else:
        sys.stdout.write(recommender_table())
