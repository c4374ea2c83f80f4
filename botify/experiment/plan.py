"""Experiment plans: a TOML file says what ``botify experiment`` runs, and is checked whole first.

A plan names the world, the recommenders it adds to the configured ones, the days (each with its
sessions and arms, the first arm the control; training steps before a day), the analysis settings,
the output directory and whether the oracle replays the analyzed days::

    out = "results"
    oracle = true

    [world]                      # or: dir = "worlds/mine" (an existing world)
    seed = 0
    tracks = 50000
    users = 10000

    [recommenders.mine]          # beyond config.json's; type: built-in, plugin or module:Class
    type = "my_recs:Mine"
    weight = 0.5

    [[days]]
    sessions = 40000
    arms = ["random", "sticky_artist", "sticky_genre"]
    analyze = false

    [[days]]
    sessions = 32000
    arms = ["sticky_artist", "mine"]
    [days.train]                 # before this day; on every earlier day's logs unless `logs`
    models = ["i2i_cooc", "my_models:ItemKNN"]

    [[days]]
    sessions = "auto"            # sized from the day before's log to detect the effect `mde`
    mde = "5%"                   # of the primary metric (or absolute: 0.2), with `power` 0.8
    arms = ["sticky_artist", "mine"]

    [analysis]
    alpha = 0.05
    offline = true               # score the trained models offline beside their online effects
    primary = "mean_time_per_session"                        # what the decisions are about
    guardrails = ["mean_request_latency:+1", "sessions:-2%"] # ["none"]: no guardrail

Every problem is reported with the file and the key path (``days[1].arms[1]: 'mine' is not a
configured recommender``) before anything starts.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botify.errors import ConfigError

CORRECTIONS = ("holm", "none")
# A quick run (--quick) plays this share of each day's sessions (at least QUICK_MIN_SESSIONS) on a
# world of QUICK_TRACKS x QUICK_USERS, with QUICK_EPOCHS epochs of the neural models.
QUICK_SHARE = 0.1
QUICK_MIN_SESSIONS = 300
QUICK_TRACKS = 5_000
QUICK_USERS = 2_000
QUICK_EPOCHS = 3


@dataclass(frozen=True)
class World:
    """A generated world (``seed``, ``tracks``, ``users``) or an existing one (``dir``)."""

    seed: int = 0
    tracks: int = 50_000
    users: int = 10_000
    dir: Path | None = None


@dataclass(frozen=True)
class Training:
    """Models trained before a day, on the logs of the days ``logs`` (day numbers, from 1)."""

    models: tuple[str, ...]
    logs: tuple[int, ...]
    epochs: int | None = None


@dataclass(frozen=True)
class Sizing:
    """``sessions = "auto"``: the day is sized just before it runs, from the day before's log, to
    detect an effect ``mde`` on the primary metric (a share of its mean when ``relative``) with
    probability ``power`` (:mod:`botify.experiment.sizing`); at most ``max_sessions``."""

    mde: float
    relative: bool
    power: float = 0.8
    max_sessions: int | None = None
    said: str = ""  # once sized: how, in a sentence


@dataclass(frozen=True)
class Day:
    """One simulated day: ``number`` from 1, its experiment's name, sessions and arms.

    ``sessions`` is None for a day sized by ``sizing`` until it is sized.
    """

    number: int
    experiment: str
    sessions: int | None
    arms: tuple[str, ...]
    analyze: bool
    train: Training | None = None
    quick_sessions: int | None = None
    sizing: Sizing | None = None


@dataclass(frozen=True)
class Analysis:
    """How analyzed days are analyzed."""

    alpha: float = 0.05
    metrics: tuple[str, ...] | None = None
    pre: tuple[int, ...] = ()
    correction: str = "holm"
    offline: bool = True
    primary: str = "mean_time_per_session"
    guardrails: tuple[str, ...] | None = None  # METRIC:MARGIN specs; None: the defaults
    sequential: bool = False
    looks: int | str | None = None


@dataclass(frozen=True)
class Plan:
    """A checked experiment plan (see the module docstring)."""

    path: Path
    world: World
    recommenders: dict[str, dict[str, Any]]
    days: tuple[Day, ...]
    analysis: Analysis = field(default_factory=Analysis)
    out: Path = Path("results")
    oracle: bool = True
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def analyzed(self) -> list[Day]:
        """The days that get a report."""
        return [day for day in self.days if day.analyze]


class _Reader:
    """Reads one table of the plan, naming the file and key path in every error."""

    def __init__(self, file: Path, path: str, table: Any) -> None:
        self.file = file
        self.path = path
        if not isinstance(table, Mapping):
            raise self.error(f"must be a table, got {_shown(table)}")
        self.table = table

    def error(self, message: str, key: str | None = None) -> ConfigError:
        where = self.path if key is None else _join(self.path, key)
        return ConfigError(f"{self.file}: {where + ': ' if where else ''}{message}")

    def only(self, *keys: str) -> None:
        unknown = [k for k in self.table if k not in keys]
        if unknown:
            raise self.error(f"unknown key {unknown[0]!r} (known: {', '.join(keys)})")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, *,
            required: bool = False) -> Any:
        if key not in self.table:
            if required:
                raise self.error("missing", key)
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(f"must be {_names(kinds)}, got {_shown(value)}", key)
        if not isinstance(value, kinds):
            raise self.error(f"must be {_names(kinds)}, got {_shown(value)}", key)
        return value

    def positive(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        value = self.get(key, int, default, required=required)
        if value is not None and value < 1:
            raise self.error(f"must be at least 1, got {value}", key)
        return value

    def strings(self, key: str, default: Sequence[str] | None = None, *,
                required: bool = False) -> tuple[str, ...] | None:
        value = self.get(key, list, default, required=required)
        if value is None:
            return None
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.error(f"must be a non-empty string, got {_shown(item)}", f"{key}[{i}]")
        return tuple(value)

    def table_of(self, key: str) -> _Reader | None:
        if key not in self.table:
            return None
        return _Reader(self.file, _join(self.path, key), self.table[key])


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _names(kinds: tuple[type, ...]) -> str:
    words = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "an array", dict: "a table"}
    return " or ".join(words.get(k, k.__name__) for k in kinds)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def load_plan(path: str | os.PathLike) -> Plan:
    """Read and check a plan file completely (recommenders, models and artifacts included).

    Raises:
        ConfigError: the file is missing or not TOML, or anything in it is wrong (names the file
            and the key path).
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such plan file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    plan = _parse(file, data)
    check_plan(plan)
    return plan


def _parse(file: Path, data: Mapping[str, Any]) -> Plan:
    top = _Reader(file, "", data)
    top.only("world", "recommenders", "artifacts", "days", "analysis", "out", "oracle")
    world = _world(top.table_of("world") or _Reader(file, "world", {}), file)
    recommenders = {}
    table = top.table_of("recommenders")
    for name, spec in (table.table if table else {}).items():
        recommenders[name] = dict(_Reader(file, f"recommenders.{name}", spec).table)
    artifacts = {}
    table = top.table_of("artifacts")
    for name in (table.table if table else {}):
        value = table.get(name, str, required=True)
        artifact = Path(value) if Path(value).is_absolute() else file.parent / value
        if not artifact.is_file():
            raise table.error(f"no such file {str(artifact)!r}", name)
        artifacts[name] = str(artifact.resolve())
    days_raw = top.get("days", list, required=True)
    if not days_raw:
        raise top.error("a plan needs at least one day", "days")
    days = tuple(_day(_Reader(file, f"days[{i}]", raw), i + 1) for i, raw in enumerate(days_raw))
    analysis = _analysis(top.table_of("analysis") or _Reader(file, "analysis", {}), days)
    out = Path(top.get("out", str, "results"))
    return Plan(file, world, recommenders, days, analysis, out, top.get("oracle", bool, True),
                artifacts)


def _world(reader: _Reader, file: Path) -> World:
    reader.only("seed", "tracks", "users", "dir")
    directory = reader.get("dir", str)
    if directory is not None:
        if len(reader.table) > 1:
            raise reader.error("give either dir or seed, tracks and users, not both")
        world_dir = Path(directory) if Path(directory).is_absolute() else file.parent / directory
        if not (world_dir / "tracks.jsonl").is_file():
            raise reader.error(f"{str(world_dir)!r} is not a world directory (no tracks.jsonl)",
                               "dir")
        return World(dir=world_dir)
    defaults = World()
    seed = reader.get("seed", int, defaults.seed)
    if seed < 0:
        raise reader.error(f"must be at least 0, got {seed}", "seed")
    return World(seed, reader.positive("tracks", defaults.tracks),
                 reader.positive("users", defaults.users))


def _day(reader: _Reader, number: int) -> Day:
    reader.only("experiment", "sessions", "quick_sessions", "arms", "analyze", "train", "mde",
                "power", "max_sessions")
    experiment = reader.get("experiment", str, f"DAY{number}")
    arms = reader.strings("arms", required=True)
    if not arms:
        raise reader.error("a day needs at least one arm (the first is the control)", "arms")
    for i, arm in enumerate(arms):
        if arm in arms[:i]:
            raise reader.error(f"{arm!r} is already an arm of this day", f"arms[{i}]")
    sizing = _sizing(reader, number, arms)
    sessions = None if sizing else reader.positive("sessions", required=True)
    train = None
    table = reader.table_of("train")
    if table is not None:
        table.only("models", "logs", "epochs")
        models = table.strings("models", required=True)
        if not models:
            raise table.error("name at least one model", "models")
        logs = table.get("logs", list, list(range(1, number)))
        for i, day in enumerate(logs):
            if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day < number:
                raise table.error(f"must be the number of an earlier day (1..{number - 1}), got "
                                  f"{_shown(day)}", f"logs[{i}]")
        if not logs:
            raise table.error("a training step needs the logs of an earlier day", "logs")
        train = Training(models, tuple(logs), table.positive("epochs"))
    return Day(number, experiment, sessions, arms, reader.get("analyze", bool, number > 1), train,
               reader.positive("quick_sessions"), sizing)


def _sizing(reader: _Reader, number: int, arms: tuple[str, ...]) -> Sizing | None:
    """A day's ``sessions = "auto"`` with its ``mde`` (and ``power``, ``max_sessions``)."""
    from botify.analysis.power import parse_mde

    if reader.table.get("sessions") != "auto":
        for key in ("mde", "power", "max_sessions"):
            if key in reader.table:
                raise reader.error('only with sessions = "auto"', key)
        if isinstance(reader.table.get("sessions"), str):
            raise reader.error(f'must be a positive integer or "auto", got '
                               f'{_shown(reader.table["sessions"])}', "sessions")
        return None
    if number == 1:
        raise reader.error('the first day has no earlier log to size it from: give a number',
                           "sessions")
    if len(arms) < 2:
        raise reader.error('"auto" sizes a comparison: the day needs a treatment beside its '
                           "control", "sessions")
    if "quick_sessions" in reader.table:
        raise reader.error('a day with sessions = "auto" is sized in quick runs too',
                           "quick_sessions")
    mde = reader.get("mde", (str, float, int), required=True)
    try:
        value, relative = parse_mde(str(mde), _join(reader.path, "mde"))
    except ConfigError as exc:
        raise ConfigError(f"{reader.file}: {exc}") from None
    power = float(reader.get("power", (float, int), 0.8))
    if not 0 < power < 1:
        raise reader.error(f"must be between 0 and 1, got {power}", "power")
    return Sizing(value, relative, power, reader.positive("max_sessions"))


def _analysis(reader: _Reader, days: tuple[Day, ...]) -> Analysis:
    from botify.analysis import metrics as mt
    from botify.analysis.guardrails import parse_guardrails
    from botify.analysis.looks import parse_looks

    reader.only("alpha", "metrics", "pre", "correction", "offline", "primary", "guardrails",
                "sequential", "looks")
    alpha = float(reader.get("alpha", (float, int), 0.05))
    if not 0 < alpha < 1:
        raise reader.error(f"must be between 0 and 1, got {alpha}", "alpha")
    metrics = reader.strings("metrics")
    for i, metric in enumerate(metrics or ()):
        if metric not in mt.BETTER:
            raise reader.error(f"unknown metric {metric!r} (known: {', '.join(mt.BETTER)})",
                               f"metrics[{i}]")
    pre = reader.get("pre", list, [])
    analyzed = [d.number for d in days if d.analyze]
    for i, day in enumerate(pre):
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= len(days):
            raise reader.error(f"must be a day number (1..{len(days)}), got {_shown(day)}",
                               f"pre[{i}]")
        if analyzed and day >= min(analyzed):
            raise reader.error(f"day {day} is not before the analyzed day {min(analyzed)}",
                               f"pre[{i}]")
    correction = reader.get("correction", str, "holm")
    if correction not in CORRECTIONS:
        raise reader.error(f"must be one of {', '.join(CORRECTIONS)}, got {correction!r}",
                           "correction")
    primary = reader.get("primary", str, mt.PRIMARY)
    if primary not in mt.BETTER:
        raise reader.error(f"unknown metric {primary!r} (known: {', '.join(mt.BETTER)})",
                           "primary")
    guardrails = reader.strings("guardrails")
    parse_guardrails(guardrails, primary,
                     lambda i: f"{reader.file}: {_join(reader.path, f'guardrails[{i}]')}")
    looks = reader.get("looks", (int, str))
    parse_looks(looks, f"{reader.file}: {_join(reader.path, 'looks')}")
    return Analysis(alpha, metrics, tuple(pre), correction, reader.get("offline", bool, True),
                    primary, guardrails, reader.get("sequential", bool, False), looks)


def plugin_paths(plan: Plan) -> list[str]:
    """Where ``module:Class`` names of the plan are imported from: its directory, the working
    directory (then ``PYTHONPATH``)."""
    return list(dict.fromkeys([str(plan.path.parent.resolve()), os.getcwd()]))


def check_plan(plan: Plan, configured: Mapping[str, Any] | None = None) -> None:
    """Check the plan's names: recommenders, their parameters, models, and that every arm's
    artifacts are produced (by an earlier training step or the plan's ``artifacts``) with the kind
    it reads.

    Args:
        plan: the parsed plan.
        configured: ``RECOMMENDERS`` of the configuration (default: ``config.json``'s).

    Raises:
        ConfigError: naming the file and the key path.
    """
    from botify.config import load_config
    from botify.recommenders.registry import check_specs
    from botify.recommenders.registry import configured as with_builtins
    from botify.registry import MODELS
    from botify.training.model import outputs

    for directory in reversed(plugin_paths(plan)):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    file = plan.path
    base = with_builtins({"RECOMMENDERS": configured if configured is not None
                          else load_config().get("RECOMMENDERS") or {}})
    try:
        specs = check_specs({**base, **plan.recommenders})
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}".replace("RECOMMENDERS[", "recommenders[")) from None
    produced = {name: _artifact_kind(path) for name, path in plan.artifacts.items()}
    checked: set[str] = set()
    for index, day in enumerate(plan.days):
        if day.train is not None:
            for i, model in enumerate(day.train.models):
                where = f"{file}: days[{index}].train.models[{i}]"
                cls = MODELS.get(model, where)
                if ":" in model and model not in checked:  # a plugin: its contract, now
                    _check_plugin_model(cls, model, where)
                    checked.add(model)
                produced.update(outputs(cls))
        for i, arm in enumerate(day.arms):
            where = f"{file}: days[{index}].arms[{i}]"
            if arm not in specs:
                raise ConfigError(f"{where}: {arm!r} is not a configured recommender (add it under "
                                  "[recommenders] or to config.json's RECOMMENDERS)")
            for artifact, kind in specs[arm].artifacts.items():
                if artifact not in produced:
                    raise ConfigError(
                        f"{where}: {arm!r} reads the artifact {artifact!r}, which no training "
                        f"step before day {day.number} produces (add a model to a [days.train] "
                        "step, or the file under [artifacts])"
                    )
                if produced[artifact] != kind:
                    raise ConfigError(f"{where}: {arm!r} reads {artifact!r} as {kind}, but it is "
                                      f"{produced[artifact]}")


def _check_plugin_model(cls: type, model: str, where: str) -> None:
    """A plugin model fits a small synthetic log into an artifact ``botify load recs`` accepts."""
    from botify.training.check import ContractError, check_model

    try:
        check_model(cls)
    except ContractError as exc:
        raise ConfigError(f"{where}: {model!r} fails the model contract ({exc}); see "
                          f"`botify check model {model}`") from None


def _artifact_kind(path: str) -> str:
    from botify.errors import DataError
    from botify.store.artifacts import iter_artifact

    try:
        for kind, _, _ in iter_artifact(path):
            return kind
    except DataError as exc:
        raise ConfigError(str(exc)) from None
    raise ConfigError(f"{path}: an empty artifact")
