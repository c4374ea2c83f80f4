"""The simulator's settings file (``config/env.yml``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from sim.errors import SimError
from sim.world.files import UserDefaults

DEFAULT_CONFIG = "config/env.yml"


@dataclass(frozen=True)
class SimConfig:
    """What ``config/env.yml`` holds.

    Attributes:
        world: the world directory.
        url: base URL of the botify service.
        connect_timeout: seconds to wait for a connection to the service.
        read_timeout: seconds to wait for its answer.
        user_defaults: values for fields a ``users.jsonl`` line leaves out.
    """

    world: str = "worlds/default"
    url: str = "http://localhost:5001"
    connect_timeout: float = 3.0
    read_timeout: float = 30.0
    user_defaults: UserDefaults = field(default_factory=UserDefaults)


def load_sim_config(path: str | os.PathLike | None) -> SimConfig:
    """Read the settings; a missing ``path`` (None) gives the defaults.

    Raises:
        SimError: the file is missing, not YAML, or has a wrong field.
    """
    if path is None:
        return SimConfig()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise SimError(f"cannot read the simulator config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SimError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise SimError(f"{path}: expected a mapping at the top level")
    remote = _mapping(data.get("remote"), path, "remote")
    defaults = _mapping(data.get("user_defaults"), path, "user_defaults")
    known = {f.name for f in fields(UserDefaults)}
    unknown = set(defaults) - known
    if unknown:
        raise SimError(f"{path}: unknown user_defaults {sorted(unknown)} (known: {sorted(known)})")
    try:
        user_defaults = UserDefaults(
            **{
                name: _number(value, path, f"user_defaults.{name}")
                for name, value in defaults.items()
            }
        )
        return SimConfig(
            world=str(data.get("world", SimConfig.world)),
            url=str(remote.get("url", SimConfig.url)),
            connect_timeout=_number(remote.get("connect_timeout", 3.0), path, "connect_timeout"),
            read_timeout=_number(remote.get("read_timeout", 30.0), path, "read_timeout"),
            user_defaults=user_defaults,
        )
    except TypeError as exc:
        raise SimError(f"{path}: {exc}") from None


def _mapping(value: Any, path: Path, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SimError(f"{path}: {name} must be a mapping")
    return value


def _number(value: Any, path: Path, name: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SimError(f"{path}: {name} must be a number, got {value!r}")
    return value
