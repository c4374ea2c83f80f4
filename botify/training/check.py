"""The contract of a trained model, on a small synthetic log: ``botify check model NAME``.

A model (a registered name or an import path ``module:Class``, see :mod:`botify.training.model`)
passes when it

1. resolves: it imports, is a class, and has the interface (``name``, ``kind``, ``fit``,
   ``cls(settings)``);
2. fits on a small synthetic log (``botify.training.synthetic``), without the catalog (unless it
   ``needs`` it) and with a synthetic catalog, returning an artifact of its declared kind;
3. writes that artifact with the writer ``botify train`` uses;
4. reads back through ``botify.store.artifacts.iter_artifact`` (what ``botify load recs`` accepts):
   every record of the declared kind, every track id one of the log's or the catalog's, every user
   id one of the log's.

:func:`check_model` runs it from Python (a test calls it on every built-in model; a user's test on
theirs): it returns the passed checks and raises :class:`ContractError` at the first failure.
"""

from __future__ import annotations

import argparse
import inspect
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from botify.errors import BotifyError, ConfigError, DataError
from botify.store.artifacts import PER_USER, RANKING

if TYPE_CHECKING:
    from botify.training.model import TrainData
    from botify.training.pipeline import TrainSettings

# The synthetic log: small enough to fit every built-in in seconds, with a structure to learn.
USERS, TRACKS, GROUPS, EVENTS = 60, 120, 4, 4000
# Tracks only the catalog knows (no event plays them), so lists over the catalog can name them.
CATALOG_ONLY = 10


@dataclass(frozen=True)
class Passed:
    """One check passed: which, and what it found."""

    check: str
    detail: str

    def __str__(self) -> str:
        return f"ok    {self.check}: {self.detail}"


class ContractError(BotifyError):
    """A model failed a check of its contract."""

    def __init__(self, check: str, reason: str) -> None:
        super().__init__(f"{check}: {reason}")
        self.check = check
        self.reason = reason

    def line(self) -> str:
        """The line ``botify check model`` prints."""
        return f"FAIL  {self.check}: {self.reason}"


def small_settings(**overrides: Any) -> TrainSettings:
    """Settings that train every built-in quickly on the synthetic log (two epochs)."""
    from botify.training.pipeline import TrainSettings

    kwargs = {"models": (), "epochs": 2, "track_k": 20, "user_k": 20, "progress": False}
    return TrainSettings(**{**kwargs, **overrides})


def check_model(
    model: str | type, out: str | Path | None = None, settings: TrainSettings | None = None
) -> list[Passed]:
    """Run the contract on ``model`` (a name, an import path or a class).

    Args:
        model: what to check.
        out: where the artifacts are written (a temporary directory, removed after, if None).
        settings: what the model is built with (:func:`small_settings` if None).

    Returns:
        The checks passed (all of them).

    Raises:
        ContractError: the first check that failed, with the reason.
    """
    return list(contract(model, out, settings))


def contract(
    model: str | type, out: str | Path | None = None, settings: TrainSettings | None = None
) -> Iterator[Passed]:
    """The checks of :func:`check_model`, yielded as they pass."""
    from botify.training.model import outputs

    cls, label = _resolve(model)
    needs = tuple(getattr(cls, "needs", ()))
    yield Passed(
        "resolve",
        f"{label} is {cls.__module__}.{cls.__qualname__}: "
        f"{', '.join(f'artifact {n!r}, kind {k}' for n, k in outputs(cls).items())}, "
        f"needs {', '.join(needs) or 'nothing'}",
    )
    settings = small_settings() if settings is None else settings
    with tempfile.TemporaryDirectory(prefix="botify-check-") as tmp:
        root = Path(tmp) if out is None else Path(out)
        for data, where in _data(needs):
            directory = root / where.replace(" ", "-")
            yield from _fit_write_read(cls, settings, data, where, directory, out is not None)


def _resolve(model: str | type) -> tuple[type, str]:
    from botify.registry import MODELS

    try:
        if isinstance(model, str):
            return MODELS.get(model), model
        if not inspect.isclass(model):
            raise ConfigError(f"model {model!r} is not a class")
        label = f"{model.__module__}.{model.__qualname__}"
        MODELS.check(model, f"model {label}")
        return model, label
    except ConfigError as exc:
        raise ContractError("resolve", str(exc)) from None


def _data(needs: tuple[str, ...]) -> Iterator[tuple[TrainData, str]]:
    """The synthetic log, without the catalog (unless needed) and with it."""
    from botify.training.catalog import TrackCatalog
    from botify.training.dataset import session_events
    from botify.training.model import CATALOG, TrainData
    from botify.training.synthetic import catalog_records, generate_events, planted_world

    world = planted_world(USERS, TRACKS, GROUPS, rng=0)
    sessions = session_events(generate_events(world, EVENTS, rng=1))
    if CATALOG not in needs:
        yield TrainData(sessions), "without the catalog"
    records = catalog_records(world, extra_tracks=CATALOG_ONLY)
    yield TrainData(sessions, TrackCatalog.from_records(records)), "with the catalog"


def _fit_write_read(
    cls: type, settings: TrainSettings, data: TrainData, where: str, out: Path, kept: bool
) -> Iterator[Passed]:
    from botify.training.artifacts import write_artifact
    from botify.training.model import describe_failure, outputs
    from botify.training.pipeline import fit_model

    started = time.perf_counter()
    try:
        _, artifacts = fit_model(cls, settings, data)
    except BotifyError as exc:  # fit_model says where the model's own code failed
        raise ContractError(f"fit {where}", str(exc)) from None
    sessions = data.sessions
    rows = ", ".join(f"{name} {len(artifact)}" for name, artifact in artifacts.items())
    yield Passed(
        f"fit {where}",
        f"{rows} rows in {time.perf_counter() - started:.2f} s (synthetic log: "
        f"{len(sessions)} events, {sessions['user'].nunique()} users, "
        f"{sessions['track'].nunique()} tracks)",
    )

    paths = {}
    for name, artifact in artifacts.items():
        try:
            paths[name] = write_artifact(out, name, artifact)
        except Exception as exc:  # records() is the model's too
            raise ContractError(f"write {where}", describe_failure(exc)) from None
    yield Passed(f"write {where}", ", ".join(
        f"{path.stat().st_size} bytes to {path if kept else path.name}" for path in paths.values()
    ))

    users = set(sessions["user"].tolist())
    tracks = set(sessions["track"].tolist())
    if data.catalog is not None:
        tracks |= set(data.catalog.tracks.ids.tolist())
    known = "log or catalog" if data.catalog is not None else "log"
    read = [_read_back(paths[name], kind, users, tracks, known, where)
            for name, kind in outputs(cls).items()]
    yield Passed(f"read {where}", "; ".join(read))


def _read_back(path: Path, kind: str, users: set, tracks: set, known: str, where: str) -> str:
    """Read one written artifact as the service (or a recommender) would; what it holds."""
    from botify.store.artifacts import iter_artifact
    from botify.training.artifacts import EMBEDDINGS, read_embeddings

    if kind == EMBEDDINGS:
        try:
            vectors = read_embeddings(path)
        except DataError as exc:
            raise ContractError(f"read {where}", str(exc)) from None
        learned = set(np.flatnonzero(np.abs(vectors).sum(axis=1) > 0).tolist())
        unknown = next(iter(sorted(learned - tracks)), None)
        if unknown is not None:
            raise ContractError(f"read {where}", f"{path}: row {unknown} has a vector but is not "
                                f"a {known} track")
        if not learned:
            raise ContractError(f"read {where}", f"{path}: every row is zero")
        return f"{vectors.shape[0]} x {vectors.shape[1]} float32 embeddings, {len(learned)} tracks"
    try:
        records = list(iter_artifact(path))
    except DataError as exc:
        raise ContractError(f"read {where}", str(exc)) from None
    for number, (found, key, value) in enumerate(records, start=1):
        problem = _bad_record(kind, found, key, value, users, tracks, known)
        if problem is not None:
            raise ContractError(f"read {where}", f"{path}:{number}: {problem}")
    whose = f"users from the log, tracks from the {known}" if kind == PER_USER else (
        f"tracks from the {known}"
    )
    return f"{len(records)} {kind} records, {whose}"


def _bad_record(
    expected: str, kind: str, key: int, value: Any, users: set, tracks: set, known: str
) -> str | None:
    """What is wrong with one record read back, or None."""
    if kind != expected:
        return f"a {kind} record, but the model's kind is {expected}"
    if kind == PER_USER and key not in users:
        return f"user {key} is not a log user"
    if kind != PER_USER and key not in tracks:
        return f"track {key} is not a {known} track"
    listed = [] if kind == RANKING else value[0]
    unknown = next((track for track in listed if track not in tracks), None)
    if unknown is not None:
        return f"lists track {unknown}, not a {known} track"
    return None


def register_check(subparsers: argparse._SubParsersAction) -> None:
    """Add ``botify check model``."""
    parser = subparsers.add_parser(
        "model",
        help="run the contract of a trained model on a small synthetic log",
        description="Resolve a model (a registered name or an import path module:Class), fit it on "
        "a small synthetic log without and with a catalog, write its artifact as `botify train` "
        "does and read it back as `botify load recs` does. One line per check; exit status 0 if "
        "all pass, 2 otherwise.",
    )
    parser.add_argument("model", metavar="NAME_OR_PATH", help="a model name or module:Class")
    parser.add_argument(
        "--out", metavar="DIR", help="keep the artifacts there (default: a temporary directory)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        for passed in contract(args.model, args.out):
            print(passed, flush=True)
    except ContractError as exc:
        print(exc.line(), flush=True)
        return 2
    return 0
