"""``botify tune favorites-threshold`` and ``botify tune values``: the ternary search, and probes on
common random numbers."""

from __future__ import annotations

import re

import pytest

import botify.cli
from botify.tuning import Probe, RecommenderObjective, ternary_search


@pytest.mark.parametrize("peak", [0.0, 0.3, 0.77, 1.0])
def test_ternary_search_finds_the_peak_of_a_unimodal_function(peak):
    calls = []

    def objective(x):
        calls.append(x)
        return Probe(x, -abs(x - peak))

    chosen, probes = ternary_search(objective, 0.0, 1.0, iterations=12)
    assert abs(chosen - peak) <= (2 / 3) ** 12
    assert [p.x for p in probes] == calls  # each value probed once
    assert len(calls) <= 2 * 12 + 1


@pytest.fixture(scope="module")
def world():
    from sim.world import generate_world

    return generate_world(5, n_tracks=300, n_users=80)


def test_probes_use_common_random_numbers(world, redis_server, redis_client):
    objective = RecommenderObjective(
        world, redis_server.url, "favorites", {"type": "favorites"}, "threshold", 60, seed=3
    )
    first = objective(0.5)
    # Another threshold in between must not leak into the repeat (likes are cleared per probe).
    objective(0.1)
    assert objective(0.5) == first
    assert first.value >= 1.0  # the first track counts 1.0


def test_cli_prints_each_probe_and_the_choice(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.tuning",))
    monkeypatch.chdir(tmp_path)  # no config.json: default favorites parameters
    argv = ["tune", "favorites-threshold", "--tracks", "300", "--users", "80", "--episodes", "60",
            "--iterations", "2", "--seed", "1"]
    outputs = []
    for _ in range(2):
        assert botify.cli.main(argv) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]  # deterministic for a seed
    probes = re.findall(r"probe +\d+: threshold ([0-9.]+)", outputs[0])
    assert [float(x) for x in probes[:2]] == pytest.approx([1 / 3, 2 / 3], abs=1e-4)
    assert 4 <= len(probes) <= 5
    chosen = float(re.search(r"chosen threshold: ([0-9.]+)", outputs[0]).group(1))
    assert 0.0 <= chosen <= 1.0


def test_cli_rejects_bad_arguments(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.tuning",))
    monkeypatch.chdir(tmp_path)
    assert botify.cli.main(["tune", "favorites-threshold", "--episodes", "0"]) == 2
    assert "--episodes must be at least 1" in capsys.readouterr().err


def _means(output: str, param: str) -> list[float]:
    return [float(m) for m in re.findall(rf"^{param} \S+: mean session time ([0-9.]+)", output,
                                          re.MULTILINE)]


def test_values_plays_every_value_on_the_same_sessions(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.tuning",))
    monkeypatch.chdir(tmp_path)
    argv = ["tune", "values", "favorites", "threshold", "0.0", "0.9", "0", "--tracks", "300",
            "--users", "80", "--episodes", "60", "--seed", "2"]
    assert botify.cli.main(argv) == 0
    output = capsys.readouterr().out
    low, high, again = _means(output, "threshold")
    assert again == low != high  # the repeat meets the same sessions; the value matters
    best = "0.0" if low > high else "0.9"
    assert f"best: threshold {best} (mean session time {max(low, high):.4f})" in output


def test_values_serves_the_artifacts_given(world, tmp_path, monkeypatch, capsys):
    import orjson

    from sim.world.files import save_world

    save_world(world, tmp_path / "world")
    # Each track's ten nearest others by the world's own embeddings: lists that are right.
    scores = world.embeddings @ world.embeddings.T
    order = (-scores).argsort(axis=1)[:, 1:11]
    lists = tmp_path / "lists.jsonl"
    lists.write_bytes(b"".join(
        orjson.dumps({"track": int(world.track_ids[i]),
                      "recommendations": world.track_ids[row].tolist()}) + b"\n"
        for i, row in enumerate(order)))
    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.tuning",))
    monkeypatch.chdir(tmp_path)
    argv = ["tune", "values", "i2i", "recent", "10", "--world", str(tmp_path / "world"),
            "--episodes", "60"]
    assert botify.cli.main(argv) == 0
    (without,) = _means(capsys.readouterr().out, "recent")
    assert botify.cli.main([*argv, "--artifact", f"i2i_cooc={lists}"]) == 0
    output = capsys.readouterr().out
    (served,) = _means(output, "recent")
    assert served > without + 0.5
    assert "not loaded" not in output  # said only when it is not (see below)


def test_values_says_which_artifacts_the_recommender_plays_without(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.tuning",))
    monkeypatch.chdir(tmp_path)
    argv = ["tune", "values", "i2i", "recent", "5", "--tracks", "300", "--users", "80",
            "--episodes", "5"]
    assert botify.cli.main(argv) == 0
    assert "the per_track artifact 'i2i_cooc' is not loaded" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["adaptive", "liked_weight", "abc"], "parameter 'liked_weight' must be float, got 'abc'"),
    (["adaptive", "nope", "1"], "unknown parameter(s) nope"),
    (["nobody", "x", "1"], "no recommender 'nobody' in RECOMMENDERS"),
    (["i2i", "recent", "1", "--artifact", "lists"], "--artifact must be NAME=FILE"),
    (["i2i", "recent", "1", "--artifact", "i2i_cooc=missing.jsonl"], "no file missing.jsonl"),
    (["i2i", "recent", "1", "--episodes", "0"], "--episodes must be at least 1"),
    (["i2i", "fallback", '"random"'], "fallback cannot be probed"),
])
def test_values_rejects_bad_input_before_playing(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.tuning",))
    monkeypatch.chdir(tmp_path)
    assert botify.cli.main(["tune", "values", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "probing" not in captured.out
