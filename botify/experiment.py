"""``botify experiment`` (what ``make demo`` runs): the whole experiment loop in one command.

1. generate the world (reused when its seed, size and generator are unchanged);
2. start the service on its own Redis with the world's catalog;
3. day 1, cold start: simulated traffic served by recommenders that need no training: ``random``,
   ``sticky_artist`` and ``sticky_genre`` (whose in-genre plays show which tracks a genre likes);
4. train the models on day 1's logs and load them into the running service;
5. day 2: an A/B experiment, ``sticky_artist`` as control against every other recommender, and the
   simulator's oracle on the same sessions, in-process, as the ceiling;
6. analyze day 2 into ``results/`` and print the table, with each treatment against the oracle;
7. stop everything it started, also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from botify.errors import BotifyError, ConfigError

DAY1_EXPERIMENT = "COLD_START"
DAY1_RECOMMENDERS = ("random", "sticky_artist", "sticky_genre")
DAY2_EXPERIMENT = "RECOMMENDERS"
DAY2_RECOMMENDERS = (
    "sticky_artist",
    "top_pop",
    "indexed",
    "contextual",
    "i2i",
    "favorites",
    "hybrid",
    "random",
)
TRAINED = ("top_tracks", "i2i_cooc", "ranker", "multidae")


@dataclass(frozen=True)
class ExperimentSettings:
    """The sizes and seeds of a run.

    Attributes:
        seed: seeds the world, the sessions of both days, and training.
        tracks: tracks in the world.
        users: users in the world.
        day1_sessions: sessions on day 1 (cold start).
        cold_start: the recommenders of day 1, a treatment each (they must need no training).
        day2_sessions: sessions on day 2 (the A/B experiment).
        processes: simulator processes playing against the service.
        workers: the service's gunicorn workers.
        epochs: epochs of the PyTorch models (``None``: their defaults).
        out: where results, logs and models go.
        worlds: where generated worlds are kept for reuse.
    """

    seed: int = 0
    tracks: int = 50_000
    users: int = 10_000
    day1_sessions: int = 40_000
    cold_start: tuple[str, ...] = DAY1_RECOMMENDERS
    day2_sessions: int = 32_000
    processes: int = 2
    workers: int = 2
    epochs: int | None = None
    out: Path = Path("results")
    worlds: Path = Path("worlds")

    def quick(self) -> ExperimentSettings:
        """A small run (about a minute) with the same steps."""
        return replace(
            self, tracks=5_000, users=2_000, day1_sessions=3_000, day2_sessions=4_000, epochs=3
        )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``experiment``."""
    parser = subparsers.add_parser(
        "experiment",
        help="the whole loop: world, cold start, training, A/B test, report (make demo)",
        description=__doc__.split("\n\n")[0],
    )
    defaults = ExperimentSettings()
    parser.add_argument("--quick", action="store_true", help="a small run with the same steps")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of everything (0)")
    parser.add_argument("--out", type=Path, default=defaults.out, help="results directory")
    parser.add_argument("--worlds", type=Path, default=defaults.worlds, help="worlds directory")
    parser.add_argument("--day1-sessions", type=int, help="sessions on day 1")
    parser.add_argument("--day2-sessions", type=int, help="sessions on day 2")
    parser.add_argument(
        "--cold-start",
        metavar="NAMES",
        help=f"day 1's recommenders, comma-separated (default {','.join(DAY1_RECOMMENDERS)})",
    )
    parser.add_argument(
        "--processes", type=int, default=defaults.processes, help="simulator processes (2)"
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Handler of ``botify experiment``."""
    settings = ExperimentSettings(
        seed=args.seed, out=args.out, worlds=args.worlds, processes=args.processes
    )
    if args.quick:
        settings = settings.quick()
    for name in ("day1_sessions", "day2_sessions"):
        value = getattr(args, name)
        if value is not None:
            if value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
            settings = replace(settings, **{name: value})
    if settings.processes < 1:
        raise ConfigError(f"--processes must be at least 1, got {settings.processes}")
    if args.cold_start is not None:
        names = tuple(name.strip() for name in args.cold_start.split(",") if name.strip())
        if not names:
            raise ConfigError("--cold-start names no recommender")
        settings = replace(settings, cold_start=names)
    run_experiment(settings)
    return 0


def _step(number: int, text: str) -> None:
    print(f"\n== [{number}/6] {text}", flush=True)


def run_experiment(settings: ExperimentSettings) -> Path:
    """Run the loop; returns the results directory.

    Raises:
        BotifyError: a step failed (its message says which and why); everything started is stopped.
    """
    from botify.config import load_config
    from botify.service.process import ServiceProcess
    from botify.store import EmbeddedRedis, connect
    from botify.store.redis_server import redacted

    started = time.perf_counter()
    recommenders = _recommender_configs(load_config(), settings.cold_start)
    out = settings.out
    for stale in ("logs", "models", "service"):
        shutil.rmtree(out / stale, ignore_errors=True)

    _step(1, f"world: seed {settings.seed}, {settings.tracks} tracks, {settings.users} users")
    world_dir = prepare_world(settings)

    _step(2, "starting the service on its own Redis")
    redis = EmbeddedRedis()
    service = None
    try:
        redis.start()
        day1 = _service_config(
            recommenders, DAY1_EXPERIMENT, settings.cold_start, world_dir, out / "logs" / "day1"
        )
        service = ServiceProcess(
            out / "service", day1, redis_url=redis.url, workers=settings.workers
        ).start()
        print(f"botify serve at {service.url} (Redis {redacted(redis.url)}); "
              f"log in {out / 'service'}")

        _step(
            3,
            f"day 1, cold start: {settings.day1_sessions} sessions on "
            f"{', '.join(settings.cold_start)}",
        )
        simulate_day(settings, world_dir, service.url, day=1, sessions=settings.day1_sessions)

        _step(4, "training on day 1's logs, loading the models into the running service")
        day2 = _service_config(
            recommenders, DAY2_EXPERIMENT, DAY2_RECOMMENDERS, world_dir, out / "logs" / "day2"
        )
        # Switching the experiment restarts the workers (not the service): the old ones flush
        # day 1's log first, so training sees every event.
        service.reload(day2)
        train_and_load(
            settings,
            out / "logs" / "day1",
            out / "models",
            connect(redis.url),
            catalog=world_dir / "tracks.jsonl",
        )

        _step(
            5,
            f"day 2, the A/B test: {settings.day2_sessions} sessions, "
            f"{len(DAY2_RECOMMENDERS)} treatments, control {DAY2_RECOMMENDERS[0]}",
        )
        simulate_day(settings, world_dir, service.url, day=2, sessions=settings.day2_sessions)
        service.stop()  # flushes day 2's log
        service = None
    finally:
        if service is not None:
            service.stop()
        redis.stop()

    _step(6, f"analysis of day 2 into {out}/ (and the oracle on the same sessions)")
    from botify.experiment_report import report_day2

    report_day2(
        world_dir,
        out,
        DAY2_EXPERIMENT,
        DAY2_RECOMMENDERS,
        sessions=settings.day2_sessions,
        seed=settings.seed,
    )
    print(f"\ndone in {time.perf_counter() - started:.0f} s; open {out / 'report.html'}")
    return out


def _recommender_configs(config, cold_start: tuple[str, ...]) -> dict:
    configured = config.get("RECOMMENDERS", {})
    missing = [n for n in (*cold_start, *DAY2_RECOMMENDERS) if n not in configured]
    if missing:
        raise ConfigError(
            f"RECOMMENDERS in the config lacks {', '.join(sorted(set(missing)))}, which the "
            "experiment runs: add them back (botify.config.DEFAULTS configures them all)"
        )
    return configured


def _service_config(
    recommenders: dict, experiment: str, names: tuple[str, ...], world_dir: Path, log_dir: Path
) -> dict:
    return {
        "TRACKS_CATALOG": str((world_dir / "tracks.jsonl").resolve()),
        "ARTIFACTS": {},
        "DATA_LOG_FILE": str((log_dir / "data.jsonl").resolve()),
        "RECOMMENDERS": {name: recommenders[name] for name in names},
        "EXPERIMENTS": {experiment: list(names)},
        "ACTIVE_EXPERIMENT": experiment,
    }


def prepare_world(settings: ExperimentSettings) -> Path:
    """The world directory for these settings: reused if present and made the same way."""
    from sim.world.files import save_world
    from sim.world.generate import WorldParams, generate_world

    world_dir = settings.worlds / f"seed{settings.seed}-{settings.tracks}x{settings.users}"
    marker = world_dir / "world.json"
    recipe = {
        "seed": settings.seed,
        "tracks": settings.tracks,
        "users": settings.users,
        "params": asdict(WorldParams()),
    }
    recipe = json.loads(json.dumps(recipe))  # tuples as lists, as read back
    if marker.exists() and json.loads(marker.read_text()) == recipe:
        print(f"reusing {world_dir}")
        return world_dir
    began = time.perf_counter()
    world = generate_world(settings.seed, settings.tracks, settings.users)
    save_world(world, world_dir)
    marker.write_text(json.dumps(recipe, indent=2))
    print(f"generated {world_dir} in {time.perf_counter() - began:.1f} s")
    return world_dir


def simulate_day(
    settings: ExperimentSettings, world_dir: Path, url: str, day: int, sessions: int
) -> None:
    """Play a day of remote sessions against the service (the simulator's own command line).

    Raises:
        BotifyError: the simulator failed.
    """
    mode = (
        ["multi", "--processes", str(settings.processes)] if settings.processes > 1 else ["single"]
    )
    args = [
        sys.executable,
        "-m",
        "sim.run",
        "--episodes",
        str(sessions),
        "--seed",
        str(settings.seed),
        "--first-day",
        str(day),
        "--world",
        str(world_dir),
        "--url",
        url,
        "--days",
        "1",
        *mode,
        "--recommender",
        "remote",
    ]
    status = subprocess.call(args)
    if status != 0:
        raise BotifyError(f"the simulator failed on day {day} (exit status {status})")


def train_and_load(
    settings: ExperimentSettings, logs: Path, models: Path, client, catalog: Path | None = None
) -> None:
    """Train the day-2 models on ``logs`` into ``models`` and load each into Redis.

    ``catalog`` (the world's tracks) gives the models the artists and genres as side features.
    """
    from botify.events import read_events
    from botify.store.artifacts import load_artifact
    from botify.training.pipeline import TrainSettings, train

    events = read_events([logs])
    print(f"{len(events)} events from {logs}")
    written = train(
        events,
        models,
        TrainSettings(seed=settings.seed, models=TRAINED, epochs=settings.epochs, catalog=catalog),
    )
    for name, path in written.items():
        result = load_artifact(client, name, path)
        print(f"loaded {name}: {result}")
