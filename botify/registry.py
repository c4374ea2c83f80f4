"""One registry of recommender types and trained models: built-ins, installed plugins, import paths.

A name resolves, in this order, to:

- an import path ``module:Class`` (``my_recs:Mine``), imported from the working directory and
  ``PYTHONPATH``: a user's own file, no installation needed;
- a built-in: a class defined in a module of the registry's package (``botify.recommenders``,
  ``botify.training.models``) that declares its name (``type_name`` for recommenders, ``name`` for
  models). A new built-in is one new module: nothing lists them;
- an entry point of an installed package, in the group ``botify.recommenders`` or
  ``botify.models`` (``mine = "my_package.recs:Mine"`` in its ``pyproject.toml``).

Every failure (an import error, not a class, a class without the interface) is a
:class:`~botify.errors.ConfigError` that names the plugin and says what is wrong.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import sys
from collections.abc import Callable
from functools import cached_property
from importlib.metadata import entry_points
from typing import Any

from botify.errors import ConfigError


class Registry:
    """Resolves names to classes of one kind.

    Args:
        what: what the classes are, for messages (``"recommender type"``).
        package: the package whose modules hold the built-ins.
        group: the entry-point group of installed plugins.
        attribute: the class attribute holding a built-in's name.
        check: raises ``ConfigError`` (with a reason) when a class lacks the interface.
    """

    def __init__(
        self,
        what: str,
        package: str,
        group: str,
        attribute: str,
        check: Callable[[type, str], None],
    ) -> None:
        self.what = what
        self.package = package
        self.group = group
        self.attribute = attribute
        self.check = check

    @cached_property
    def builtins(self) -> dict[str, type]:
        """Name -> class of every built-in (imports the package's modules once)."""
        package = importlib.import_module(self.package)
        found: dict[str, type] = {}
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            module = importlib.import_module(f"{self.package}.{info.name}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                name = cls.__dict__.get(self.attribute)
                if cls.__module__ == module.__name__ and isinstance(name, str):
                    if name in found:
                        raise ConfigError(f"two built-in {self.what}s are named {name!r}")
                    found[name] = cls
        return found

    def plugins(self) -> dict[str, str]:
        """Name -> ``module:Class`` of the installed entry points of :attr:`group`."""
        return {point.name: point.value for point in entry_points(group=self.group)}

    def names(self) -> list[str]:
        """Every registered name: built-ins, then installed plugins."""
        return [*self.builtins, *(n for n in self.plugins() if n not in self.builtins)]

    def get(self, name: str, where: str = "") -> type:
        """The class that ``name`` stands for, checked.

        Args:
            name: a registered name or an import path ``module:Class``.
            where: where the name was found, prefixed to messages (``RECOMMENDERS['mine']``).

        Raises:
            ConfigError: unknown name, or a plugin that cannot be imported or lacks the interface.
        """
        prefix = f"{where}: " if where else ""
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{prefix}a {self.what} must be a name or module:Class, got {name!r}")
        if ":" in name:
            cls = load_path(name, f"{prefix}{self.what} {name!r}")
        elif name in self.builtins:
            return self.builtins[name]
        elif name in (plugins := self.plugins()):
            cls = load_path(plugins[name], f"{prefix}{self.what} {name!r} ({self.group} plugin)")
        else:
            raise ConfigError(
                f"{prefix}unknown {self.what} {name!r} (known: {', '.join(self.names())}; or "
                "give an import path module:Class)"
            )
        if not inspect.isclass(cls):
            raise ConfigError(f"{prefix}{self.what} {name!r} is not a class but {cls!r}")
        self.check(cls, f"{prefix}{self.what} {name!r}")
        return cls


def load_path(path: str, what: str) -> Any:
    """The object an import path ``module:attribute`` names, imported from the working directory
    and ``PYTHONPATH``.

    Raises:
        ConfigError: the path is malformed, the module fails to import, or lacks the attribute.
    """
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"{what}: an import path is module:Class, got {path!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a plugin's own import error, whatever it is, is the user's to fix
        raise ConfigError(
            f"{what}: cannot import {module_name!r} ({type(exc).__name__}: {exc})"
        ) from None
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"{what}: {module_name!r} has no {attribute!r}") from None
    return target


def _check_recommender(cls: type, what: str) -> None:
    if not callable(getattr(cls, "recommend_next", None)):
        raise ConfigError(f"{what}: {cls.__name__} has no recommend_next(user, prev_track, "
                          "prev_time) method")
    _check_signature(cls, what, "__init__(self, context, params)", arguments=2)


def _check_model(cls: type, what: str) -> None:
    from botify.training.model import NEEDS, model_kinds

    kinds = model_kinds()
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ConfigError(f"{what}: {cls.__name__}.name must name its artifact (letters, digits, "
                          f"'_' or '-'), got {name!r}")
    kind = getattr(cls, "kind", None)
    if kind not in kinds:
        raise ConfigError(f"{what}: {cls.__name__}.kind must be one of {', '.join(kinds)}, got "
                          f"{kind!r}")
    extra = getattr(cls, "extra", None) or {}
    if not isinstance(extra, dict) or not all(
        isinstance(n, str) and re.fullmatch(r"[A-Za-z0-9_-]+", n) and n != name and k in kinds
        for n, k in extra.items()
    ):
        raise ConfigError(f"{what}: {cls.__name__}.extra must map further artifact names to kinds "
                          f"({', '.join(kinds)}), got {extra!r}")
    needs = getattr(cls, "needs", ())
    if not isinstance(needs, tuple) or not set(needs) <= set(NEEDS):
        raise ConfigError(f"{what}: {cls.__name__}.needs must be a tuple of {', '.join(NEEDS)}, "
                          f"got {needs!r}")
    if not callable(getattr(cls, "fit", None)):
        raise ConfigError(f"{what}: {cls.__name__} has no fit(data) method")
    _check_signature(cls, what, "__init__(self, settings)", arguments=1)


def _check_signature(cls: type, what: str, expected: str, arguments: int) -> None:
    """The constructor takes the positional arguments the registry passes."""
    try:
        signature = inspect.signature(cls)
        signature.bind(*([None] * arguments))
    except TypeError:
        raise ConfigError(f"{what}: {cls.__name__} must be built as {expected}") from None
    except ValueError:  # no signature to inspect (a builtin): let the call tell
        pass


RECOMMENDER_TYPES = Registry(
    "recommender type", "botify.recommenders", "botify.recommenders", "type_name",
    _check_recommender,
)
MODELS = Registry("model", "botify.training.models", "botify.models", "name", _check_model)
