"""``botify train`` and ``botify evaluate`` end to end on small rotated logs."""

from __future__ import annotations

import orjson
import pytest

from botify.cli import main
from botify.training.synthetic import generate_events, write_event_log

SMALL = ["--epochs", "2", "--seed", "5"]


def _read(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_train_writes_every_artifact_and_evaluates(small_log_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(["train", "--logs", str(small_log_dir), "--out", str(out), *SMALL, "--evaluate"]) == 0
    )
    captured = capsys.readouterr()
    assert "mse=" in captured.err and "loss=" in captured.err  # per-epoch progress
    names = {p.name for p in out.iterdir()}
    assert names == {
        "top_tracks.jsonl",
        "i2i_cooc.jsonl",
        "ranker.jsonl",
        "multidae.jsonl",
        "als.jsonl",
        "user_cf.jsonl",
        "evaluation.json",
    }
    top = _read(out / "top_tracks.jsonl")
    assert set(top[0]) == {"track", "score"}
    assert [r["score"] for r in top] == sorted((r["score"] for r in top), reverse=True)
    ranker = _read(out / "ranker.jsonl")
    assert all(len(r["recommendations"]) == len(r["weights"]) == 100 for r in ranker)
    assert all(set(r) == {"track", "recommendations"} for r in _read(out / "i2i_cooc.jsonl"))
    for name in ("multidae", "als"):
        rows = _read(out / f"{name}.jsonl")
        assert all(set(r) == {"user", "tracks"} and len(r["tracks"]) == 50 for r in rows)
    user_cf = _read(out / "user_cf.jsonl")  # only the tracks of positive score: at most 50
    assert user_cf and all(set(r) == {"user", "tracks"} and 0 < len(r["tracks"]) <= 50
                           for r in user_cf)
    table = orjson.loads((out / "evaluation.json").read_bytes())
    models = {(row["task"], row["model"]) for row in table}
    assert ("next", "ranker") in models and ("user", "random") in models
    assert ("next", "ranker_cosine") not in models  # a variant, trained when named
    assert "precision@10" in captured.out


def test_train_is_deterministic_for_a_seed(small_log_dir, tmp_path):
    args = ["--logs", str(small_log_dir), *SMALL, "--quiet", "--models", "ranker", "multidae"]
    assert main(["train", "--out", str(tmp_path / "a"), *args]) == 0
    assert main(["train", "--out", str(tmp_path / "b"), *args]) == 0
    for name in ("ranker.jsonl", "multidae.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_evaluate_writes_the_table(small_log_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["evaluate", "--logs", str(small_log_dir), "--out", str(out), *SMALL, "--quiet"]
    assert main([*argv, "--k", "5", "--models", "i2i_cooc", "ranker_cosine", "top_tracks"]) == 0
    assert [p.name for p in out.iterdir()] == ["evaluation.json"]
    rows = orjson.loads((out / "evaluation.json").read_bytes())
    # top_tracks is the top_pop baseline
    assert {row["model"] for row in rows} == {"top_pop", "random", "i2i_cooc", "ranker_cosine"}
    assert all(row["k"] == 5 for row in rows)
    assert "i2i_cooc" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_an_unknown_model_is_refused_before_reading_the_logs(tmp_path, capsys, command):
    argv = [command, "--logs", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
    assert main([*argv, "--models", "ranker", "rankr"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'rankr' (known: " in err and "ranker_cosine" in err
    assert "module:Class" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no log files"),
        (b"\n", "no events"),
        (b"not json\n", "not JSON"),
        (b'{"message": "next", "user": 1}\n', "missing field"),
    ],
    ids=["no-logs", "empty-logs", "bad-line", "missing-field"],
)
def test_bad_logs_give_a_clear_message_and_no_files(tmp_path, capsys, content, message):
    logs = tmp_path / "logs"
    logs.mkdir()
    if content is not None:
        (logs / "data.jsonl").write_bytes(content)
    out = tmp_path / "out"
    assert main(["train", "--logs", str(logs), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_a_missing_log_path_is_reported(tmp_path, capsys):
    assert main(["evaluate", "--logs", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_too_few_sessions_for_a_holdout(world, tmp_path, capsys):
    logs = tmp_path / "logs"
    write_event_log(generate_events(world, 5, rng=3), logs)
    assert main(["evaluate", "--logs", str(logs), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "holdout" in capsys.readouterr().err


def test_artifacts_load_into_redis(small_log_dir, tmp_path, redis_client):
    """What `botify train` writes is what `botify load recs` accepts."""
    from botify.store.artifacts import ArtifactReader, load_artifact

    out = tmp_path / "out"
    assert main(["train", "--logs", str(small_log_dir), "--out", str(out), *SMALL, "--quiet"]) == 0
    expected = {"top_tracks": "ranking", "i2i_cooc": "per_track", "ranker": "per_track"}
    expected |= {"multidae": "per_user", "als": "per_user"}
    for name, kind in expected.items():
        result = load_artifact(redis_client, name, out / f"{name}.jsonl")
        assert result.kind == kind
        assert result.count == len((out / f"{name}.jsonl").read_bytes().splitlines())
    reader = ArtifactReader(redis_client)
    first = orjson.loads((out / "ranker.jsonl").read_bytes().splitlines()[0])
    (entry,) = reader.entries("ranker", [first["track"]])
    assert list(entry.tracks) == first["recommendations"]
    assert entry.weights is not None and len(entry.weights) == len(entry.tracks)
    assert reader.ranking("top_tracks").top(3).tolist() == [
        orjson.loads(line)["track"]
        for line in (out / "top_tracks.jsonl").read_bytes().splitlines()[:3]
    ]


def test_train_passes_the_catalog(small_log_dir, world, tmp_path):
    """`--catalog` reaches i2i_cooc: every catalog track gets a list."""
    catalog = tmp_path / "tracks.jsonl"
    n = world.n_tracks + 5  # five tracks the logs never saw
    catalog.write_bytes(
        b"".join(
            orjson.dumps({"track": t, "artist": f"a{t % 40}", "title": "x", "genre": f"g{t % 6}"})
            + b"\n"
            for t in range(n)
        )
    )
    out = tmp_path / "out"
    argv = ["train", "--logs", str(small_log_dir), "--out", str(out), "--quiet"]
    assert main([*argv, "--models", "i2i_cooc", "--catalog", str(catalog)]) == 0
    assert {r["track"] for r in _read(out / "i2i_cooc.jsonl")} == set(range(n))


BEYOND = ("artist_diversity", "genre_diversity", "novelty", "popularity", "serendipity")


def test_evaluate_prints_and_writes_the_beyond_accuracy_metrics(
    small_log_dir, world, tmp_path, capsys
):
    catalog = tmp_path / "tracks.jsonl"
    catalog.write_bytes(
        b"".join(
            orjson.dumps({"track": t, "artist": f"a{t % 40}", "title": "x", "genre": f"g{t % 6}"})
            + b"\n"
            for t in range(world.n_tracks)
        )
    )
    argv = ["evaluate", "--logs", str(small_log_dir), *SMALL, "--quiet", "--k", "5"]
    assert main([*argv, "--out", str(tmp_path / "a"), "--models", "i2i_cooc"]) == 0
    out = capsys.readouterr().out
    assert all(f"{m}@5" in out for m in BEYOND)
    assert "n/a" in out and "without a catalog (--catalog FILE)" in out
    rows = orjson.loads((tmp_path / "a" / "evaluation.json").read_bytes())
    for row in rows:
        assert row["artist_diversity"] is None and row["genre_diversity"] is None
        assert row["notes"] and row["novelty"] > 0 and row["popularity"] > 0
        assert 0 <= row["serendipity"] <= row["precision"]

    argv += ["--out", str(tmp_path / "b"), "--models", "i2i_cooc", "--catalog", str(catalog)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert all(f"{m}@5" in out for m in BEYOND) and "n/a" not in out
    rows = orjson.loads((tmp_path / "b" / "evaluation.json").read_bytes())
    assert {row["model"] for row in rows} == {"top_pop", "random", "i2i_cooc"}
    for row in rows:
        assert 0 < row["artist_diversity"] <= 1 and 0 < row["genre_diversity"] <= 1
        assert row["notes"] == []
