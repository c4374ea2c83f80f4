"""``botify experiment PLAN`` (what ``make demo`` runs): an experiment plan, day by day.

1. check the plan whole (recommenders, models, artifacts), before anything starts;
2. generate the world (reused when its seed, size and generator are unchanged), or take the plan's;
3. start the service on its own Redis with the world's catalog;
4. for each day: train the day's models on the logs of the days it names and load them into the
   running service (the workers reload the new artifact versions without a restart), switch the
   service to the day's arms, and play the day's sessions against it with the simulator;
5. analyze each analyzed day into ``OUT/dayN/`` (with the oracle replaying the same sessions, when
   the plan asks), and write the run's summary (``OUT/summary.md``, ``OUT/summary.json``);
6. stop everything it started, also on Ctrl-C or an error.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from botify.errors import BotifyError
from botify.experiment.plan import (
    QUICK_EPOCHS,
    QUICK_MIN_SESSIONS,
    QUICK_SHARE,
    QUICK_TRACKS,
    QUICK_USERS,
    Day,
    Plan,
    World,
    plugin_paths,
)


@dataclass(frozen=True)
class RunOptions:
    """What the command line sets over a plan.

    Attributes:
        seed: seeds the world, every day's sessions and training (None: the plan's world seed).
        out: the output directory (None: the plan's).
        worlds: where generated worlds are kept for reuse.
        processes: simulator processes playing against the service.
        workers: the service's gunicorn workers.
        quick: the same steps at small sizes (a small world, a tenth of the sessions, few epochs).
        redis_cluster: run on a private Redis Cluster of this many masters (0: one redis-server).
    """

    seed: int | None = None
    out: Path | None = None
    worlds: Path = Path("worlds")
    processes: int = 2
    workers: int = 2
    quick: bool = False
    redis_cluster: int = 0


def effective(plan: Plan, options: RunOptions) -> Plan:
    """The plan with the command line's seed, output directory and quick sizes applied."""
    world = plan.world
    if options.seed is not None and world.dir is None:
        world = replace(world, seed=options.seed)
    if options.quick and world.dir is None:
        world = replace(world, tracks=min(world.tracks, QUICK_TRACKS),
                        users=min(world.users, QUICK_USERS))
    days = plan.days
    if options.quick:
        days = tuple(
            replace(
                day,
                sessions=day.sessions and (
                    day.quick_sessions or max(QUICK_MIN_SESSIONS, round(day.sessions * QUICK_SHARE))
                ),
                train=day.train and replace(day.train, epochs=QUICK_EPOCHS),
            )
            for day in days
        )
    return replace(plan, world=world, days=days, out=options.out or plan.out)


def run_plan(plan: Plan, options: RunOptions) -> Path:
    """Run a checked plan; returns the output directory.

    Raises:
        BotifyError: a step failed (its message says which and why); everything started is stopped.
    """
    from botify.config import load_config
    from botify.dashboard.process import DashboardProcess
    from botify.experiment.report import report_day, write_summary
    from botify.experiment.sizing import size_day
    from botify.service.process import ServiceProcess
    from botify.store import connect
    from botify.store.redis_cluster import embedded_store
    from botify.store.redis_server import redacted

    plan = effective(plan, options)
    seed = plan.world.seed if options.seed is None else options.seed
    started = time.perf_counter()
    out = plan.out
    for stale in ("logs", "models", "service", *(f"day{d.number}" for d in plan.days)):
        shutil.rmtree(out / stale, ignore_errors=True)
    steps = 2 + len(plan.days) + 1
    step = _Steps(steps)

    world_dir = prepare_world(plan.world, options.worlds, step)
    recommenders = {**(load_config().get("RECOMMENDERS") or {}), **plan.recommenders}
    step("starting the service on its own Redis"
         + (f" Cluster ({options.redis_cluster} masters)" if options.redis_cluster else ""))
    redis = embedded_store(options.redis_cluster)
    service = dashboard = None
    offline: dict[int, dict] = {}
    paths = [*plugin_paths(plan), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {"PYTHONPATH": os.pathsep.join(paths)}
    played: list[Day] = []
    try:
        redis.start()
        client = connect(redis.url)
        _load_artifacts(client, plan.artifacts)
        for day in plan.days:
            if day.sizing is not None:
                day = size_day(day, plan, out / "logs" / f"day{day.number - 1}",
                               world_users(world_dir))
                print(f"\nday {day.number}: {day.sizing.said}", flush=True)
            played.append(day)
            step(
                f"day {day.number}: {day.sessions} sessions, {len(day.arms)} arm(s) "
                f"({', '.join(day.arms)}; control {day.arms[0]})"
            )
            if day.train is not None:  # every earlier day's events are written: none is held
                scores = train_and_load(day, out, client, world_dir, seed, plan.analysis.offline)
                if scores is not None:
                    offline[day.number] = scores
            config = service_config(recommenders, day, world_dir, out / "logs" / f"day{day.number}")
            if service is None:
                service = ServiceProcess(
                    out / "service", config, redis_url=redis.url, workers=options.workers, env=env
                ).start()
                print(f"botify serve at {service.url} (Redis {redacted(redis.url)}); "
                      f"log in {out / 'service'}")
                dashboard = DashboardProcess(out / "logs", out / "service" / "dashboard.log",
                                             config=out / "service" / "config.json").start()
                print(f"dashboard at {dashboard.url}/ (the current day's experiment, live)",
                      flush=True)
            else:
                service.reload(config)
            simulate_day(world_dir, service.url, day, seed, options.processes)
        service.stop()
        service = None
        plan = replace(plan, days=tuple(played))  # with the sized days' sessions
    finally:
        if dashboard is not None:
            dashboard.stop()
        if service is not None:
            service.stop()
        redis.stop()

    step(f"analysis of day(s) {', '.join(str(d.number) for d in plan.analyzed) or 'none'} "
         f"into {out}/")
    reports = {day.number: report_day(plan, day, world_dir, seed) for day in plan.analyzed}
    summary = write_summary(plan, reports, out, offline, arm_artifacts(recommenders, plan))
    print(f"\n{summary}")
    print(f"done in {time.perf_counter() - started:.0f} s; reports in {out}/")
    return out


class _Steps:
    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def __call__(self, text: str) -> None:
        self.done += 1
        print(f"\n== [{self.done}/{self.total}] {text}", flush=True)


def service_config(recommenders: dict, day: Day, world_dir: Path, log_dir: Path) -> dict:
    """The service's configuration for a day: its arms as the active experiment."""
    return {
        "TRACKS_CATALOG": str((world_dir / "tracks.jsonl").resolve()),
        "ARTIFACTS": {},
        "DATA_LOG_FILE": str((log_dir / "data.jsonl").resolve()),
        "RECOMMENDERS": recommenders,
        "EXPERIMENTS": {day.experiment: list(day.arms)},
        "ACTIVE_EXPERIMENT": day.experiment,
    }


def prepare_world(world: World, worlds: Path, step) -> Path:
    """The world directory: the plan's own, or one generated (reused if made the same way)."""
    if world.dir is not None:
        step(f"world: {world.dir}")
        return world.dir
    from sim.world.files import save_world
    from sim.world.generate import WorldParams, generate_world

    step(f"world: seed {world.seed}, {world.tracks} tracks, {world.users} users")
    world_dir = worlds / f"seed{world.seed}-{world.tracks}x{world.users}"
    marker = world_dir / "world.json"
    recipe = {"seed": world.seed, "tracks": world.tracks, "users": world.users,
              "params": asdict(WorldParams())}
    recipe = json.loads(json.dumps(recipe))  # tuples as lists, as read back
    if marker.exists() and json.loads(marker.read_text()) == recipe:
        print(f"reusing {world_dir}")
        return world_dir
    began = time.perf_counter()
    save_world(generate_world(world.seed, world.tracks, world.users), world_dir)
    marker.write_text(json.dumps(recipe, indent=2))
    print(f"generated {world_dir} in {time.perf_counter() - began:.1f} s")
    return world_dir


def world_users(world_dir: Path) -> int:
    """The number of users of a world directory (one per line of its users file)."""
    from sim.world.files import USERS_FILE

    with open(world_dir / USERS_FILE, "rb") as file:
        return sum(1 for line in file if line.strip())


def simulate_day(world_dir: Path, url: str, day: Day, seed: int, processes: int) -> None:
    """Play a day of remote sessions against the service (the simulator's own command line).

    Raises:
        BotifyError: the simulator failed.
    """
    mode = ["multi", "--processes", str(processes)] if processes > 1 else ["single"]
    args = [
        sys.executable, "-m", "sim.run", "--episodes", str(day.sessions), "--seed", str(seed),
        "--first-day", str(day.number), "--world", str(world_dir), "--url", url, "--days", "1",
        *mode, "--recommender", "remote",
    ]
    simulator = subprocess.Popen(args)
    try:
        status = simulator.wait()
    except KeyboardInterrupt:
        # Stopped by a signal to this process alone (a SIGTERM): the simulator stops as on Ctrl-C.
        simulator.send_signal(signal.SIGINT)
        try:
            simulator.wait(timeout=30)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.wait()
        raise
    if status != 0:
        raise BotifyError(f"the simulator failed on day {day.number} (exit status {status})")


def train_and_load(
    day: Day, out: Path, client, world_dir: Path, seed: int, offline: bool = False
) -> dict | None:
    """Train the day's models on the logs of the days it names and load each into Redis.

    The world's catalog gives the models the artists and genres as side features. With
    ``offline``, the models are also scored on a holdout by time of the same logs
    (:func:`botify.experiment.offline.offline_scores`, written to ``OUT/models/offline-dayN.json``).

    Returns:
        The offline scores by artifact name, or None without ``offline``.
    """
    from botify.events import read_events
    from botify.experiment.offline import TEST_FRACTION, offline_scores
    from botify.store.artifacts import load_artifact
    from botify.training.artifacts import write_json
    from botify.training.pipeline import TrainSettings, train

    logs = [out / "logs" / f"day{number}" for number in day.train.logs]
    events = read_events(logs)
    print(f"training {', '.join(day.train.models)} on {len(events)} events of day(s) "
          f"{', '.join(map(str, day.train.logs))}")
    settings = TrainSettings(seed=seed, models=day.train.models, epochs=day.train.epochs,
                             catalog=world_dir / "tracks.jsonl")
    written = train(events, out / "models", settings)
    for name, path in written.items():
        result = load_artifact(client, name, path)  # a .npy: item embeddings
        print(f"loaded {name}: {result}")
    if not offline:
        return None
    print(f"offline scores: the same models fitted on the older {1 - TEST_FRACTION:.0%} of these "
          "logs, scored on the newer")
    scores = offline_scores(events, settings)
    write_json(out / "models" / f"offline-day{day.number}.json", scores)
    return scores


def arm_artifacts(recommenders: dict, plan: Plan) -> dict[str, dict[str, str]]:
    """Per arm of the plan, the artifacts its recommender reads (name -> kind)."""
    from botify.recommenders.registry import check_specs, configured

    specs = check_specs(configured({"RECOMMENDERS": recommenders}))
    return {arm: specs[arm].artifacts for day in plan.days for arm in day.arms}


def _load_artifacts(client, artifacts: dict[str, str]) -> None:
    from botify.store.artifacts import load_artifact

    for name, path in artifacts.items():
        print(f"loaded {name}: {load_artifact(client, name, path)}")
