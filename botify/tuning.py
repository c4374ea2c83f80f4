"""``botify tune``: recommender constants chosen on event logs or on simulated sessions.

``botify tune artist-penalty`` fits Adaptive's artist penalty on event logs
(:mod:`botify.training.fatigue`). ``botify tune favorites-threshold`` finds the like threshold of
Favorites by ternary search over simulated sessions (:data:`THRESHOLD_SEARCH`). ``botify tune
values`` plays simulated sessions once per value of any recommender's parameter
(:data:`VALUES_PROBE`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

THRESHOLD_SEARCH = """Find the like threshold of Favorites by ternary search on mean session time.

Each probe plays the same planned sessions of the simulator (common random numbers: the same users,
tastes, first tracks and budget draws, and the recommender's generator seeded the same) against an
in-process Favorites with the probed threshold, on a private Redis that starts every probe empty of
likes and sessions. So two probes differ only by the threshold, and the noise of the simulation
does not steer the search. Mean session time is assumed unimodal in the threshold.
"""

VALUES_PROBE = """Play the same planned sessions once per value of one parameter of a recommender.

Every probe plays the same sessions of the simulator (common random numbers: the same users,
tastes, first tracks and budget draws, and the recommender's generator seeded the same) against the
recommender in process, on a private Redis that holds the world's tracks as the catalog and the
artifacts, and starts every probe empty of sessions and likes. So two probes differ only by the
value. The recommender is an entry of RECOMMENDERS (config.json): its other parameters are the
entry's, except its fallback, which is none (a random track). The artifacts are config.json's
ARTIFACTS that exist, and those given with --artifact. A value is read as JSON (2, 0.5, null,
true, "text"); anything else is a string.
"""


@dataclass(frozen=True)
class Probe:
    """One evaluation of the objective.

    Attributes:
        x: the probed value.
        value: the objective there (mean session time).
        sem: its standard error (informative only: the search compares paired runs).
    """

    x: Any
    value: float
    sem: float = float("nan")


def ternary_search(
    objective: Callable[[float], Probe],
    low: float = 0.0,
    high: float = 1.0,
    iterations: int = 6,
    on_probe: Callable[[Probe], object] | None = None,
) -> tuple[float, list[Probe]]:
    """Maximize a unimodal ``objective`` over ``[low, high]``.

    Each iteration probes the two inner thirds and drops the third beyond the worse one, so the
    interval shrinks to ``(2/3) ** iterations`` of its width. Probes are cached by value.

    Args:
        objective: gives a :class:`Probe` for a value.
        low: the lower end of the interval.
        high: the upper end.
        iterations: how many times to shrink the interval.
        on_probe: called with each new probe (e.g. to print it).

    Returns:
        The chosen value (the middle of the final interval, which is probed too) and the probes in
        the order they were made.
    """
    probes: list[Probe] = []
    cache: dict[float, Probe] = {}

    def probe(x: float) -> Probe:
        x = round(x, 6)
        if x not in cache:
            cache[x] = objective(x)
            probes.append(cache[x])
            if on_probe is not None:
                on_probe(cache[x])
        return cache[x]

    for _ in range(iterations):
        left = low + (high - low) / 3
        right = high - (high - low) / 3
        if probe(left).value < probe(right).value:
            low = left
        else:
            high = right
    chosen = round((low + high) / 2, 6)
    probe(chosen)
    return chosen, probes


class RecommenderObjective:
    """Mean session time of one recommender type on planned simulator sessions, as a function of
    one of its parameters.

    Args:
        world: the simulator's world (its tracks are loaded as the catalog).
        redis_url: a private Redis (emptied of everything but the catalog and the artifacts before
            every probe, so no session state or learned likes carry over).
        type_name: the recommender's type.
        params: its config entry (``type`` is dropped, and ``fallback`` is none: no other
            recommender is built, a random track stands in).
        knob: the parameter that a probe replaces.
        episodes: sessions per probe.
        seed: seed of the planned sessions and of the recommender's generator.
        artifacts: NAME -> file, loaded when they exist.
    """

    def __init__(
        self,
        world: Any,
        redis_url: str,
        type_name: str,
        params: Mapping[str, Any],
        knob: str,
        episodes: int,
        seed: int,
        artifacts: Mapping[str, str] | None = None,
    ) -> None:
        from botify.store.artifacts import load_configured_artifacts
        from botify.store.catalog import RedisCatalog, load_records
        from botify.store.connection import connect
        from sim.envs.session import plan_sessions

        self.world = world
        self.redis = connect(redis_url)
        load_records(self.redis, (world.track_record(i) for i in range(world.n_tracks)), "world")
        load_configured_artifacts(self.redis, artifacts or {})
        self.catalog = RedisCatalog(self.redis)
        self.catalog.sync()
        self.type_name = type_name
        self.params = {k: v for k, v in params.items() if k not in ("type", "fallback")}
        self.knob = knob
        self.seed = seed
        self.starts = plan_sessions(world, episodes, seed=seed)

    def _forget(self) -> None:
        """Delete every key but the catalog's and the artifacts'."""
        from botify.store.artifacts import PREFIX as ARTIFACTS
        from botify.store.catalog import PREFIX as CATALOG

        keys = [key for key in self.redis.scan_iter(count=1000)
                if not key.decode().startswith((CATALOG, ARTIFACTS))]
        for start in range(0, len(keys), 1000):
            self.redis.unlink(*keys[start : start + 1000])

    def __call__(self, x: Any) -> Probe:
        """Play the planned sessions with the knob set to ``x``; the mean session time."""
        from botify.recommenders.base import RecommenderContext
        from botify.registry import RECOMMENDER_TYPES
        from botify.store.sessions import end_session
        from sim.agents.recommender import RecommenderAgent
        from sim.rollout import run_episodes

        self._forget()
        config = {"SESSION_TTL": 3600, "RECOMMENDERS": {}}
        context = RecommenderContext(
            self.redis, self.catalog, config, np.random.default_rng(self.seed)
        )
        cls = RECOMMENDER_TYPES.get(self.type_name, "the tuned recommender")
        recommender = cls(context, probe_params(cls, self.params, self.knob, x, self.type_name))
        agent = RecommenderAgent(
            self.world, recommender, on_last=lambda user, track, time: end_session(self.redis, user)
        )
        summary = run_episodes(self.world, agent, self.starts).summary()
        return Probe(x, summary["reward_mean"], summary["reward_sem"])


def probe_params(cls: type, params: Mapping[str, Any], knob: str, x: Any, where: str) -> Any:
    """The parameters a probe plays ``cls`` with: ``params`` (without ``type`` and ``fallback``)
    with ``knob`` set to ``x``, and the fallback none (a random track: no other recommender is
    built for a probe).

    Raises:
        ConfigError: ``x`` or another value is not what the parameter declares.
    """
    from botify.params import declared, parse

    fields = {**params, knob: x}
    if any(f.name == "fallback" for f in dataclasses.fields(declared(cls))):
        fields["fallback"] = None
    return parse(declared(cls), fields, where)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tune favorites-threshold``, ``tune values`` and ``tune artist-penalty``."""
    tune = subparsers.add_parser(
        "tune", help="tune recommender constants on event logs or the simulator",
        description="Tune recommender constants on event logs or simulated sessions.",
    )
    what = tune.add_subparsers(dest="what", required=True, metavar="WHAT")
    threshold = what.add_parser(
        "favorites-threshold",
        help="the like threshold of favorites, by ternary search on mean session time",
        description=THRESHOLD_SEARCH,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_world_arguments(threshold)
    threshold.add_argument("--iterations", type=int, default=6, help="ternary steps (6)")
    threshold.add_argument(
        "--recommender", default="favorites",
        help="the favorites entry of RECOMMENDERS whose other parameters are used (favorites)",
    )
    threshold.set_defaults(func=run_tune_threshold)
    values = what.add_parser(
        "values",
        help="mean session time for each value of one parameter of a recommender",
        description=VALUES_PROBE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    values.add_argument("recommender", help="an entry of RECOMMENDERS (e.g. adaptive)")
    values.add_argument("param", help="the parameter probed (e.g. liked_weight)")
    values.add_argument("values", nargs="+", metavar="VALUE", help="the values probed")
    values.add_argument("--artifact", action="append", default=[], metavar="NAME=FILE",
                        help="an artifact to load (JSONL, or .npy embeddings); repeatable")
    _add_world_arguments(values)
    values.set_defaults(func=run_tune_values)
    fatigue = what.add_parser(
        "artist-penalty",
        help="the artist penalty of adaptive, fitted on event logs",
        description="Fit how listen time falls with each further track of one artist in a "
        "session (the artist_penalty of the adaptive recommender) on event logs.",
    )
    fatigue.add_argument("--logs", nargs="+", required=True, metavar="PATH",
                         help="event log files or directories")
    fatigue.add_argument("--catalog", required=True, metavar="FILE",
                         help="tracks JSONL (the tracks' artists)")
    fatigue.add_argument("--recommender", default="adaptive",
                         help="the entry of RECOMMENDERS the value is meant for (adaptive)")
    fatigue.set_defaults(func=run_tune_artist_penalty)


def _add_world_arguments(parser: argparse.ArgumentParser) -> None:
    """The world and the sessions a simulated probe plays."""
    parser.add_argument("--world", metavar="DIR", help="a world directory (default: generate)")
    parser.add_argument("--tracks", type=int, default=2000, help="generated world: tracks")
    parser.add_argument("--users", type=int, default=500, help="generated world: users")
    parser.add_argument("--world-seed", type=int, default=0, help="generated world: seed")
    parser.add_argument("--episodes", type=int, default=1000, help="sessions per probe (1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of sessions and recommender")


def _check_counts(args: argparse.Namespace, *flags: str) -> None:
    from botify.errors import ConfigError

    for flag in ("episodes", "tracks", "users", *flags):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag} must be at least 1, got {getattr(args, flag)}")


def _configured_artifacts(config: Mapping[str, Any]) -> dict[str, str]:
    """The config's ARTIFACTS whose files exist."""
    return {
        name: file for name, file in (config.get("ARTIFACTS") or {}).items() if Path(file).exists()
    }


def _value(text: str) -> Any:
    """A command-line value: JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def run_tune_values(args: argparse.Namespace, out=None) -> int:
    """Handler of ``botify tune values``."""
    from botify.config import load_config
    from botify.errors import ConfigError, DataError
    from botify.params import artifacts as artifact_params
    from botify.recommenders.registry import configured
    from botify.registry import RECOMMENDER_TYPES
    from botify.store.redis_server import EmbeddedRedis

    out = out or sys.stdout
    _check_counts(args)
    config = load_config()
    params = configured(config).get(args.recommender)
    if params is None:
        known = ", ".join(sorted(configured(config)))
        raise ConfigError(f"no recommender {args.recommender!r} in RECOMMENDERS (known: {known})")
    cls = RECOMMENDER_TYPES.get(params["type"], f"RECOMMENDERS[{args.recommender!r}]")
    where = f"RECOMMENDERS[{args.recommender!r}] ({params['type']})"
    if args.param in ("type", "fallback"):
        raise ConfigError(f"{args.param} cannot be probed: the probes play the recommender alone")
    others = {k: v for k, v in params.items() if k not in ("type", "fallback", args.param)}
    values = [_value(text) for text in args.values]
    # Every value is checked, as the probes will play it, before anything is played.
    parsed = [probe_params(cls, others, args.param, value, where) for value in values]
    artifacts = _configured_artifacts(config)
    for spec in args.artifact:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            raise ConfigError(f"--artifact must be NAME=FILE, got {spec!r}")
        if not Path(file).is_file():
            raise DataError(f"--artifact {name}: no file {file}")
        artifacts[name] = file
    named = {name: kind for instance in parsed for name, kind in artifact_params(instance).items()}
    for name, kind in sorted(named.items()):
        if name not in artifacts:
            print(f"note: the {kind} artifact {name!r} is not loaded (give it with --artifact "
                  f"{name}=FILE); {args.recommender} plays without it", file=out, flush=True)
    world = _world(args)
    print(
        f"probing {args.param} of {args.recommender} on {world.n_tracks} tracks, "
        f"{world.n_users} users, {args.episodes} sessions per probe (seed {args.seed})",
        file=out, flush=True,
    )
    probes = []
    with EmbeddedRedis() as server:
        objective = RecommenderObjective(
            world, server.url, params["type"], others, args.param, args.episodes, args.seed,
            artifacts=artifacts,
        )
        for value in values:
            probes.append(objective(value))
            print(f"{args.param} {json.dumps(value)}: mean session time {probes[-1].value:.4f} "
                  f"(± {probes[-1].sem:.4f})", file=out, flush=True)
    best = max(probes, key=lambda probe: probe.value)
    print(
        f"best: {args.param} {json.dumps(best.x)} (mean session time {best.value:.4f}); set it as "
        f'"{args.param}" of RECOMMENDERS["{args.recommender}"] in config.json or a plan',
        file=out, flush=True,
    )
    return 0


def run_tune_artist_penalty(args: argparse.Namespace, out=None) -> int:
    """Handler of ``botify tune artist-penalty``."""
    from botify.training.catalog import TrackCatalog
    from botify.training.dataset import load_events, session_events
    from botify.training.fatigue import fit_fatigue

    out = out or sys.stdout
    sessions = session_events(load_events(args.logs))
    fatigue = fit_fatigue(sessions, TrackCatalog.read(args.catalog))
    print("earlier tracks of the artist  listens  mean time", file=out)
    for k, mean, listens in zip(fatigue.counts, fatigue.mean_times, fatigue.listens, strict=True):
        print(f"{k:29d}  {listens:7d}  {mean:9.4f}", file=out)
    print(
        f"artist penalty: {fatigue.penalty:.3f} per further track of one artist; set it as "
        f'"artist_penalty" of RECOMMENDERS["{args.recommender}"] in config.json or a plan',
        file=out, flush=True,
    )
    return 0


def run_tune_threshold(args: argparse.Namespace, out=None) -> int:
    """Handler of ``botify tune favorites-threshold``."""
    from botify.config import load_config
    from botify.errors import ConfigError
    from botify.store.redis_server import EmbeddedRedis

    out = out or sys.stdout
    _check_counts(args, "iterations")
    from botify.recommenders.registry import configured

    config = load_config()
    params = configured(config).get(args.recommender)
    if params is None:
        params = {"type": "favorites"}
    elif params.get("type") != "favorites":
        raise ConfigError(f"RECOMMENDERS[{args.recommender!r}] is not a favorites recommender")
    world = _world(args)
    artifacts = _configured_artifacts(config)
    print(
        f"tuning the favorites threshold on {world.n_tracks} tracks, {world.n_users} users, "
        f"{args.episodes} sessions per probe (seed {args.seed}), {args.iterations} iterations",
        file=out, flush=True,
    )
    count = 0

    def show(probe: Probe) -> None:
        nonlocal count
        count += 1
        print(
            f"probe {count:2d}: threshold {probe.x:.4f}  mean session time {probe.value:.4f} "
            f"(± {probe.sem:.4f})",
            file=out, flush=True,
        )

    # A private Redis: the likes of the probes must not mix with a served one's.
    with EmbeddedRedis() as server:
        objective = RecommenderObjective(
            world, server.url, "favorites", params, "threshold", args.episodes, args.seed,
            artifacts=artifacts,
        )
        chosen, probes = ternary_search(objective, 0.0, 1.0, args.iterations, on_probe=show)
    best = next(p for p in probes if p.x == chosen)
    print(
        f"chosen threshold: {chosen:.4f} (mean session time {best.value:.4f}); "
        f'set it as "threshold" of RECOMMENDERS["{args.recommender}"] in config.json',
        file=out, flush=True,
    )
    return 0


def _world(args: argparse.Namespace):
    from botify.errors import DataError

    if args.world:
        from sim.world import load_world

        try:
            return load_world(args.world)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot load the world {args.world}: {exc}") from None
    from sim.world import generate_world

    return generate_world(args.world_seed, n_tracks=args.tracks, n_users=args.users)
