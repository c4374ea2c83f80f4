"""``botify train --engine spark``: top_tracks and i2i_cooc as the pandas engine computes them,
ALS by MLlib that finds the planted groups, artifacts the loader accepts."""

from __future__ import annotations

import numpy as np
import pytest

from botify.cli import main
from botify.errors import ConfigError
from botify.spark import read_events, spark_session
from botify.store.artifacts import iter_artifact
from botify.training import spark as engine
from botify.training.cooccurrence import Cooccurrence
from botify.training.dataset import load_events, session_events, transitions
from botify.training.popularity import TopTracks
from botify.training.synthetic import generate_events, planted_world, write_event_log

USERS, TRACKS, GROUPS = 300, 400, 4


@pytest.fixture(scope="module")
def spark():
    with spark_session("local[2]") as session:
        yield session


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    world = planted_world(USERS, TRACKS, GROUPS, rng=3)
    logs = tmp_path_factory.mktemp("logs")
    events = generate_events(world, 30_000, rng=4)
    write_event_log(events, logs, lines_per_file=len(events) // 3 + 1)  # rotated files
    return world, logs


def test_top_tracks_is_the_pandas_ranking(spark, planted):
    _, logs = planted
    expected = TopTracks().fit(load_events([logs])).ranking
    found = engine.top_tracks(read_events(spark, [logs]))
    np.testing.assert_allclose(found.scores, expected.scores, rtol=1e-12)
    # Totals summed in another order can differ in the last bits, which swaps two tracks of
    # equal total: ranked again on totals rounded to 1e-9, the two rankings are one.
    def canonical(ranking):
        order = np.lexsort((ranking.tracks, -np.round(ranking.scores, 9)))
        return ranking.tracks[order].tolist()

    assert canonical(found) == canonical(expected)
    swapped = np.flatnonzero(found.tracks != expected.tracks)
    assert len(swapped) < len(found.tracks) / 10


def test_cooccurrence_lists_are_the_pandas_lists(spark, planted):
    _, logs = planted
    expected = Cooccurrence(k=20).fit(transitions(session_events(load_events([logs])))).lists
    found = engine.cooccurrence(read_events(spark, [logs]), k=20)
    assert found.keys.tolist() == expected.keys.tolist()
    weights = dict(zip(expected.keys.tolist(), expected.weights, strict=True))
    for key, mine, theirs in zip(found.keys.tolist(), found.items, expected.items, strict=True):
        if mine.tolist() != theirs.tolist():  # only where two totals differ in the last bits
            gaps = np.diff(weights[key])
            assert sorted(mine.tolist()) == sorted(theirs.tolist()) or np.any(
                np.abs(gaps) < 1e-9), key


def test_als_recommends_the_users_groups(spark, planted):
    world, logs = planted
    lists = engine.als(read_events(spark, [logs]), k=10, factors=8, iterations=5)
    assert len(lists) > USERS * 0.9
    hits = np.mean([np.mean(world.track_group[items] == world.user_group[user])
                    for user, items in zip(lists.keys, lists.items, strict=True)])
    assert hits > 3 / GROUPS  # random tracks would be of the user's group 1 time in 4


def test_the_command_writes_artifacts_the_loader_reads(planted, tmp_path, capsys):
    _, logs = planted
    assert main(["train", "--logs", str(logs), "--out", str(tmp_path), "--engine", "spark",
                 "--master", "local[2]", "--models", "top_tracks", "i2i_cooc", "--quiet"]) == 0
    kinds = {name: {kind for kind, _, _ in iter_artifact(tmp_path / f"{name}.jsonl")}
             for name in ("top_tracks", "i2i_cooc")}
    assert kinds == {"top_tracks": {"ranking"}, "i2i_cooc": {"per_track"}}
    assert main(["train", "--logs", str(logs), "--out", str(tmp_path), "--engine", "spark",
                 "--models", "ranker"]) == 2
    assert "--engine spark trains top_tracks, i2i_cooc, als; not ranker" in capsys.readouterr().err
    with pytest.raises(ConfigError):
        engine.train_on_spark([logs], tmp_path, ["multidae"])
