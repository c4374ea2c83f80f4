"""The contract every recommender fulfils, checkable against any recommender type, yours included.

:func:`check_recommender` builds a recommender type through the registry (a built-in, an installed
plugin, or an import path ``module:Class``) on a real Redis holding a small synthetic world (the
catalog below, and synthetic artifacts of the kinds its ``Params`` declare), and checks what the
service relies on:

- ``builds``: the type resolves and is built as ``cls(context, params)`` with the given parameters;
  when it cannot be (an import error, not a class, no ``recommend_next``, another constructor
  signature, unknown or invalid parameters, a constructor that raises) this is one
  :class:`~botify.errors.ConfigError` naming it, raised rather than reported;
- ``answers``: with its artifacts loaded, it never raises on valid requests (known and unknown
  previous tracks, times 0..1, many users) and answers an ``int`` id of a catalog track (artifacts
  name a few tracks the catalog does not have: it must not pass them on);
- ``no data``: without any artifact loaded, it still answers catalog tracks;
- ``fallback``: a type that reads artifacts and names a fallback (a parameter declared with
  ``recommender=True``) answers through it when its data is missing: with its fallbacks set to
  ``sticky_artist``, the answer is another track by the previous track's artist;
- ``no repeats``: a recommender whose ``no_repeats`` attribute is true (a class attribute, or a
  property when the promise depends on the parameters) never recommends a track already played
  in the session, with or without data;
- ``same seed``: built twice with the same seed on the same state, it gives the same answers (it
  draws from ``context.rng`` only), which the simulator and the A/B tests rely on.

The world: tracks 0..59, artist ``A{t // 6}`` (ten artists of six tracks), genre ``G{t // 18}`` for
tracks 0..53; users 1..24, the first half with a per-user list. Every check starts from a flushed
database, so a Redis given by URL must hold nothing (by default a private one is started).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis

from botify import params as declared_params
from botify.errors import ConfigError
from botify.recommenders.base import Recommender, RecommenderContext
from botify.recommenders.registry import build_recommenders
from botify.registry import RECOMMENDER_TYPES
from botify.store.artifacts import PER_TRACK, PER_USER, RANKING, load_artifact
from botify.store.catalog import RedisCatalog, load_records
from botify.store.connection import key_count, open_client
from botify.store.embeddings import EMBEDDINGS
from botify.store.redis_server import EmbeddedRedis, redacted

PASS, FAIL, SKIP = "ok", "FAIL", "skip"

N_TRACKS = 60
TRACKS = frozenset(range(N_TRACKS))
# Valid track ids the catalog does not have: asked as previous tracks, and named by the artifacts.
UNKNOWN = (10_000, 2**40)
STALE = (1_000, 1_001)
USERS = range(1, 25)
LISTED_USERS = range(1, 13)  # the users with a per-user list
TIMES = (0.0, 0.1, 0.3, 0.5, 0.75, 0.9, 1.0)
FALLBACK = "sticky_artist"  # what the fallback check names as fallback
SEED = 11
SESSION_TTL = 600


def artist_of(track: int) -> int:
    """The artist number of a track of the world."""
    return track // 6


CATALOG = [
    {"track": t, "artist": f"A{artist_of(t)}", "title": f"T{t}"}
    | ({"genre": f"G{t // 18}"} if t < 54 else {})
    for t in range(N_TRACKS)
]


def synthetic_embeddings() -> np.ndarray:
    """The world's item embeddings (the same every time): 8-dimensional float32 rows for the
    catalog's tracks and the stale ids beyond it, every fifth row zero (no vector)."""
    vectors = np.random.default_rng(4).normal(size=(max(STALE) + 1, 8)).astype(np.float32)
    vectors[::5] = 0
    return vectors


def synthetic_artifact(kind: str) -> list[dict[str, Any]]:
    """The records of the world's artifact of ``kind`` (the same every time).

    - ``ranking``: every track scored (in a shuffled order), plus two stale ids mid-table;
    - ``per_user``: users 1..12 with eight tracks each, some lists naming a stale id;
    - ``per_track``: two tracks in three have five others with weights in [0, 1], descending,
      some naming a stale id.
    """
    rng = np.random.default_rng({RANKING: 1, PER_USER: 2, PER_TRACK: 3}[kind])
    if kind == RANKING:
        order = [int(t) for t in rng.permutation(N_TRACKS)]
        order[20:20] = STALE
        return [{"track": t, "score": float(len(order) - i)} for i, t in enumerate(order)]
    if kind == PER_USER:
        records = []
        for user in LISTED_USERS:
            tracks = [int(t) for t in rng.choice(N_TRACKS, 8, replace=False)]
            if user % 3 == 0:
                tracks.insert(2, STALE[user % 2])
            records.append({"user": user, "tracks": tracks})
        return records
    records = []
    for track in range(N_TRACKS):
        if track % 3 == 2:
            continue
        others = [int(t) for t in rng.choice(N_TRACKS, 6, replace=False) if t != track][:5]
        if track % 4 == 0:
            others[1] = STALE[track % 2]
        weights = sorted((round(float(w), 3) for w in rng.random(len(others))), reverse=True)
        records.append({"track": track, "recommendations": others, "weights": weights})
    return records


@dataclass(frozen=True)
class CheckResult:
    """One check of the contract.

    Attributes:
        name: the check (``answers``, ``no repeats``...).
        status: ``ok``, ``FAIL`` or ``skip`` (the check does not apply, ``detail`` says why).
        detail: what was checked, or what went wrong (naming the recommender and the request).
    """

    name: str
    status: str
    detail: str

    @property
    def failed(self) -> bool:
        """Whether the check failed."""
        return self.status == FAIL

    def line(self) -> str:
        """The result as one line: ``ok    answers: ...``."""
        return f"{self.status:<5} {self.name}: {self.detail}"


class Violation(Exception):
    """A recommender broke the contract; the message says how (it names the recommender)."""


def promises_no_repeats(recommender: Any) -> bool:
    """Whether a built recommender promises never to repeat a track of the session."""
    return getattr(recommender, "no_repeats", False) is True


@dataclass(frozen=True)
class _Spec:
    """The type checked, its class, its parameters as given (``type`` left out) and parsed."""

    type: str
    cls: type
    values: Mapping[str, Any]
    params: Any

    def refs(self) -> list[str]:
        """The parameters declared as naming another recommender (a fallback)."""
        return [f.name for f in dataclasses.fields(self.params) if f.metadata.get("recommender")]

    def artifacts(self) -> dict[str, tuple[str, str]]:
        """Parameter -> (the world's artifact it is pointed at, its kind), for the parameters
        naming an artifact that are set."""
        found = {}
        for f in dataclasses.fields(self.params):
            kind = f.metadata.get("artifact")
            if kind and getattr(self.params, f.name):
                found[f.name] = (f"contract_{f.name}_{kind}", kind)
        return found


def _spec(type_or_path: str, params: Mapping[str, Any] | None) -> _Spec:
    where = f"recommender type {type_or_path!r}"
    if params is not None and not isinstance(params, Mapping):
        raise ConfigError(f"{where}: parameters must be an object, got {params!r}")
    values = dict(params or {})
    if "type" in values:
        raise ConfigError(f"{where}: give the type once, not as a parameter too")
    cls = RECOMMENDER_TYPES.get(type_or_path)
    try:
        declaration = declared_params.declared(cls)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    parsed = declared_params.parse(declaration, values, where)
    return _Spec(type_or_path, cls, values, parsed)


class _Run:
    """The checks of one type on one Redis database (flushed before each check)."""

    def __init__(self, spec: _Spec, client: redis.Redis, workdir: Path) -> None:
        self.spec = spec
        self.client = client
        self.files = {
            kind: self._write(workdir / f"{kind}.jsonl", synthetic_artifact(kind))
            for kind in (PER_USER, PER_TRACK, RANKING)
        }
        self.files[EMBEDDINGS] = workdir / f"{EMBEDDINGS}.npy"
        np.save(self.files[EMBEDDINGS], synthetic_embeddings())

    @staticmethod
    def _write(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        return path

    # The world and the recommender ----------------------------------------------------------------

    def build(self, data: bool, seed: int = SEED, **overrides: Any) -> Recommender:
        """A fresh world (with the artifacts or without any) and the recommender built on it.

        Raises:
            ConfigError: it cannot be built.
        """
        self.client.flushdb()
        load_records(self.client, CATALOG, source="contract")
        artifacts = self.spec.artifacts()
        if data:
            for name, kind in artifacts.values():
                load_artifact(self.client, name, self.files[kind])
        named = {field: name for field, (name, _) in artifacts.items()}
        entry = {"type": self.spec.type, **self.spec.values, **named, **overrides}
        config = {"SESSION_TTL": SESSION_TTL, "RECOMMENDERS": {self.spec.type: entry}}
        catalog = RedisCatalog(self.client)
        catalog.sync()
        context = RecommenderContext(self.client, catalog, config, np.random.default_rng(seed))
        return build_recommenders(config, context)[self.spec.type]

    def ask(self, recommender: Recommender, user: int, prev: int, time: float) -> int:
        """Its answer to one request, checked: an ``int`` id of a catalog track.

        Raises:
            Violation: it raised or answered something else.
        """
        request = f"recommend_next(user={user}, prev_track={prev}, prev_time={time})"
        try:
            answer = recommender.recommend_next(user, prev, time)
        except Exception as exc:  # whatever it raises breaks the contract: report it
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            raise Violation(
                f"{self.spec.type} raised {type(exc).__name__}: {exc} on {request} (at "
                f"{Path(frame.filename).name}:{frame.lineno})"
            ) from None
        if type(answer) is not int:
            raise Violation(f"{self.spec.type} answered {answer!r} of type "
                            f"{type(answer).__name__}, not an int track id, on {request}")
        if answer not in TRACKS:
            raise Violation(f"{self.spec.type} answered track {answer}, which is not in the "
                            f"catalog (tracks 0..{N_TRACKS - 1}), on {request}")
        return answer

    def play(
        self, recommender: Recommender, user: int, first: int, steps: int, rng: np.random.Generator
    ) -> list[int]:
        """A session as the simulator plays it: each answer is the next track, heard a random
        time (the first for 1.0)."""
        tracks, prev, time = [first], first, 1.0
        for _ in range(steps):
            prev = self.ask(recommender, user, prev, time)
            tracks.append(prev)
            time = float(rng.choice(TIMES))
        return tracks

    def sessions(self, recommender: Recommender, steps: int = 12) -> int:
        """Every user plays a session, from known and unknown first tracks, then asks once more
        after a track the catalog does not know. Returns the number of requests."""
        rng = np.random.default_rng(1)
        firsts = [0, 5, 30, 40, 59, UNKNOWN[0], 17, 54, 23, UNKNOWN[1], 48, 2]
        for i, user in enumerate(USERS):
            self.play(recommender, user, firsts[i % len(firsts)], steps, rng)
            self.ask(recommender, user, UNKNOWN[i % 2], TIMES[i % len(TIMES)])
        return len(USERS) * (steps + 1)

    # The checks -----------------------------------------------------------------------------------

    def check_builds(self) -> CheckResult:
        given = ", ".join(f"{k}={json.dumps(v)}" for k, v in self.spec.values.items())
        cls = self.spec.cls
        return CheckResult("builds", PASS, f"{self.spec.type} is {cls.__module__}:"
                           f"{cls.__qualname__}, built with {given or 'its defaults'}")

    def check_answers(self) -> CheckResult:
        loaded = sorted({kind for _, kind in self.spec.artifacts().values()})
        count = self.sessions(self.build(data=True))
        data = f"synthetic {', '.join(loaded)} loaded" if loaded else "it reads no artifacts"
        return CheckResult("answers", PASS, f"{count} requests of {len(USERS)} users ({data}): "
                           "catalog tracks, no exception")

    def check_no_data(self) -> CheckResult:
        count = self.sessions(self.build(data=False))
        return CheckResult("no data", PASS, f"{count} requests without any artifact loaded: "
                           "catalog tracks, no exception")

    def check_fallback(self) -> CheckResult:
        refs = self.spec.refs()
        if not self.spec.artifacts():
            return CheckResult("fallback", SKIP, "reads no artifacts, so no data can be missing")
        if not refs:
            return CheckResult("fallback", SKIP, "declares no fallback (no parameter with "
                               "recommender=True)")
        recommender = self.build(data=False, **{ref: FALLBACK for ref in refs})
        pairs = [(1, 0), (3, 50), (7, 23), (14, 13), (20, 44), (24, 31)]
        for user, prev in pairs:
            answer = self.ask(recommender, user, prev, 1.0)
            if answer == prev or artist_of(answer) != artist_of(prev):
                raise Violation(
                    f"{self.spec.type} without its data, with {', '.join(refs)}={FALLBACK!r}, "
                    f"answered {answer} (artist A{artist_of(answer)}) after {prev} (artist "
                    f"A{artist_of(prev)}) for user {user}: not its fallback's answer"
                )
        return CheckResult("fallback", PASS, f"without its data its fallback answers "
                           f"({', '.join(refs)}={FALLBACK!r}: {len(pairs)} requests)")

    def check_no_repeats(self) -> CheckResult:
        if not promises_no_repeats(self.build(data=False)):
            return CheckResult("no repeats", SKIP, "does not promise it (no_repeats is not true)")
        starts = [(1, 0), (2, 5), (3, 30), (4, 40), (13, UNKNOWN[0])]
        for data in (True, False):
            recommender = self.build(data=data)
            rng = np.random.default_rng(3)
            for user, first in starts:
                tracks = self.play(recommender, user, first, 40, rng)
                repeated = sorted({t for t in tracks if tracks.count(t) > 1})
                if repeated:
                    raise Violation(
                        f"{self.spec.type} promises no repeats (no_repeats) but repeated "
                        f"{', '.join(map(str, repeated))} in the session of user {user} "
                        f"({'with' if data else 'without'} data): {tracks}"
                    )
        return CheckResult("no repeats", PASS, f"{2 * len(starts)} sessions of 40 requests, "
                           "with and without data, never repeat a track")

    def check_same_seed(self) -> CheckResult:
        starts = [(1, 0), (2, 30), (3, 40), (15, 8), (16, UNKNOWN[0])]
        runs = []
        for _ in range(2):
            recommender = self.build(data=True, seed=SEED)
            rng = np.random.default_rng(4)
            runs.append([self.play(recommender, u, f, 8, rng) for u, f in starts])
        for (user, _), first, second in zip(starts, *runs, strict=True):
            if first != second:
                raise Violation(
                    f"{self.spec.type} built twice with seed {SEED} on the same state answered "
                    f"user {user} differently: {first} then {second} (draw from context.rng only)"
                )
        return CheckResult("same seed", PASS, f"two runs with seed {SEED} gave the same "
                           f"{len(starts)} sessions")

    def checks(self) -> list[tuple[str, Callable[[], CheckResult]]]:
        return [
            ("answers", self.check_answers),
            ("no data", self.check_no_data),
            ("fallback", self.check_fallback),
            ("no repeats", self.check_no_repeats),
            ("same seed", self.check_same_seed),
        ]


def check_recommender(
    type_or_path: str, params: Mapping[str, Any] | None = None, *, redis_url: str | None = None
) -> list[CheckResult]:
    """Check a recommender type against the contract (see the module docstring).

    Args:
        type_or_path: a built-in type, an installed plugin's name, or an import path
            ``module:Class`` (imported from the working directory and ``PYTHONPATH``).
        params: overrides of its declared parameters, as in a ``RECOMMENDERS`` entry (without
            ``type``). Artifact parameters are pointed at the world's synthetic artifacts.
        redis_url: a Redis whose database is empty, flushed by the checks; by default a private
            ``redis-server`` is started and stopped.

    Returns:
        One result per check, ``builds`` first; a check stops at the first violation it finds.

    Raises:
        ConfigError: the type cannot be built with these parameters (the message names it and says
            why), or the database of ``redis_url`` is not empty.
    """
    spec = _spec(type_or_path, params)
    if redis_url is None:
        with EmbeddedRedis() as server:
            return _check_on(spec, server.url)
    return _check_on(spec, redis_url)


def _check_on(spec: _Spec, url: str) -> list[CheckResult]:
    client = open_client(url, socket_timeout=10)
    try:
        keys = key_count(client)
        if keys:
            raise ConfigError(f"checking a recommender flushes its Redis database, and "
                              f"{redacted(url)} holds {keys} keys: give an empty one (or none)")
        with tempfile.TemporaryDirectory(prefix="botify-contract-") as workdir:
            run = _Run(spec, client, Path(workdir))
            try:
                run.build(data=False)  # a constructor that fails is a ConfigError, raised here
                results = [run.check_builds()]
                for name, check in run.checks():
                    try:
                        results.append(check())
                    except Violation as exc:
                        results.append(CheckResult(name, FAIL, str(exc)))
                    except ConfigError as exc:  # e.g. it cannot be built with its fallbacks set
                        results.append(CheckResult(name, FAIL, str(exc)))
                return results
            finally:
                client.flushdb()
    finally:
        client.close()


def main_check_recommender(
    name: str, params: Mapping[str, Any] | None = None, *, redis_url: str | None = None
) -> int:
    """Check ``name`` (a type or ``module:Class``), printing one line per check.

    Returns:
        0 when every check passed (or did not apply), 2 when one failed or it cannot be built.
    """
    try:
        results = check_recommender(name, params or {}, redis_url=redis_url)
    except ConfigError as exc:
        results = [CheckResult("builds", FAIL, str(exc))]
    for result in results:
        print(result.line(), flush=True)
    return 2 if any(r.failed for r in results) else 0


def register_check(subparsers) -> None:
    """Add ``botify check recommender``."""
    parser = subparsers.add_parser(
        "recommender",
        help="run the recommender contract on a synthetic world",
        description="Build a recommender type (a registered name or an import path module:Class) "
        "on its own Redis with a synthetic catalog and artifacts of the kinds it declares, and "
        "check its promises: it never raises, answers catalog tracks, falls back without data, "
        "keeps its no-repeat promise. One line per check; exit status 0 if all pass, 2 otherwise.",
    )
    parser.add_argument("type", metavar="TYPE_OR_PATH", help="a recommender type or module:Class")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=JSON",
        help="override a declared parameter (the value is JSON when it parses, else a string)",
    )
    parser.set_defaults(func=_run_check)


def _run_check(args) -> int:
    import json

    params = {}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE")
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    return main_check_recommender(args.type, params)
