"""Item embeddings in Redis: a .npy loaded as a version, the atomic switch, the reader."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

import botify.cli
from botify.errors import DataError
from botify.store.artifacts import (
    artifact_info,
    load_artifact,
    load_configured_artifacts,
    pointer_key,
    version_key,
)
from botify.store.batch import Batch
from botify.store.embeddings import EmbeddingsReader, load_embeddings


def save(path, array) -> str:
    np.save(path, array)
    return str(path)


def matrix(rows: int = 6, dim: int = 4, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    vectors[2] = 0.0  # a track without a vector
    return vectors


def test_a_npy_loads_and_reads_back_bit_for_bit(redis_client, tmp_path):
    vectors = matrix()
    result = load_artifact(redis_client, "emb", save(tmp_path / "emb.npy", vectors))
    assert (result.kind, result.count) == ("embeddings", 5)
    info = artifact_info(redis_client, "emb")
    assert info["kind"] == "embeddings" and info["shape"] == [6, 4]
    got = EmbeddingsReader(redis_client).get("emb")
    assert got.version == result.version and got.dim == 4
    assert got.vectors.dtype == np.float32 and np.array_equal(got.vectors, vectors)
    np.testing.assert_allclose(got.norms, np.linalg.norm(vectors, axis=1), rtol=1e-6)
    assert [got.has(t) for t in (0, 2, 5, 6, -1)] == [True, False, True, False, False]
    # Read-only: a recommender cannot change the matrix every request shares.
    with pytest.raises(ValueError):
        got.vectors[0, 0] = 1.0


def test_the_matrix_is_decoded_once_per_version(redis_client, tmp_path):
    path = save(tmp_path / "e.npy", matrix())
    load_embeddings(redis_client, "e", path)
    reader = EmbeddingsReader(redis_client)
    first = reader.get("e")
    # Readers of one process share the decoded version; a request only asks for the pointer.
    batch = Batch(redis_client)
    resolve = EmbeddingsReader(redis_client).queue(batch, "e")
    assert len(batch) == 1
    batch.execute()
    assert resolve() is first
    assert first.vectors.base is not None  # a view of the bytes from Redis, not a copy


def test_a_reload_is_noticed_and_the_old_version_expires(redis_client, tmp_path):
    reader = EmbeddingsReader(redis_client)
    first = load_embeddings(redis_client, "v", save(tmp_path / "a.npy", matrix(seed=1)))
    assert np.array_equal(reader.get("v").vectors, matrix(seed=1))
    second = load_embeddings(redis_client, "v", save(tmp_path / "b.npy", matrix(rows=9, seed=2)))
    assert second.version > first.version
    now = reader.get("v")
    assert now.version == second.version and np.array_equal(now.vectors, matrix(rows=9, seed=2))
    for part in ("vectors", "meta"):
        assert 0 < redis_client.ttl(version_key("v", first.version, part)) <= 120


def test_embeddings_replace_lists_of_the_same_name_and_back(redis_client, tmp_path):
    lists = tmp_path / "l.jsonl"
    lists.write_text('{"track": 1, "recommendations": [2]}\n')
    old = load_artifact(redis_client, "x", lists)
    load_artifact(redis_client, "x", save(tmp_path / "x.npy", matrix()))
    assert 0 < redis_client.ttl(version_key("x", old.version, "data")) <= 120
    load_artifact(redis_client, "x", lists)
    # The name holds lists again: the reader says there are no embeddings rather than misreading.
    assert EmbeddingsReader(redis_client).get("x") is None


def test_readers_never_see_a_mix_of_versions(redis_client, tmp_path):
    files = [save(tmp_path / f"{v}.npy", np.full((500, 8), v, dtype=np.float32)) for v in (1, 2)]
    load_embeddings(redis_client, "mix", files[0])
    mixed = []
    stop = threading.Event()

    def read():
        reader = EmbeddingsReader(redis_client)
        while not stop.is_set():
            values = np.unique(reader.get("mix").vectors)
            if len(values) != 1:
                mixed.append(values)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(8):
            load_embeddings(redis_client, "mix", files[i % 2 - 1])
    finally:
        stop.set()
        thread.join()
    assert mixed == []


BAD = [
    ("float64", lambda p: np.save(p, np.zeros((3, 2))), "2-D float32"),
    ("1-d", lambda p: np.save(p, np.zeros(3, dtype=np.float32)), "2-D float32"),
    ("nan", lambda p: np.save(p, np.full((2, 2), np.nan, dtype=np.float32)), "NaN"),
    ("not-npy", lambda p: p.write_bytes(b"hello"), "not a readable .npy"),
    ("objects", lambda p: np.save(p, np.array([{"a": 1}]), allow_pickle=True), "not a readable"),
]


@pytest.mark.parametrize("write,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_file_is_one_error_and_nothing_is_switched(redis_client, tmp_path, write, message):
    good = load_embeddings(redis_client, "m", save(tmp_path / "good.npy", matrix()))
    bad = tmp_path / "bad.npy"
    write(bad)
    with pytest.raises(DataError, match=message) as caught:
        load_artifact(redis_client, "m", bad)
    assert str(bad) in str(caught.value)
    assert EmbeddingsReader(redis_client).get("m").version == good.version
    with pytest.raises(DataError, match="no such file"):
        load_embeddings(redis_client, "m", tmp_path / "gone.npy")
    with pytest.raises(DataError, match="bad artifact name"):
        load_embeddings(redis_client, "a:b", tmp_path / "good.npy")


def test_not_loaded_reads_as_missing(redis_client):
    assert EmbeddingsReader(redis_client).get("nothing") is None


def test_configured_npy_loads_at_startup_once(redis_client, tmp_path):
    path = save(tmp_path / "e.npy", matrix())
    lines: list[str] = []
    (result,) = load_configured_artifacts(redis_client, {"e": path}, log=lines.append)
    assert result.kind == "embeddings"
    assert load_configured_artifacts(redis_client, {"e": path}, log=lines.append) == []
    assert "already loaded" in lines[-1]
    assert int(redis_client.get(pointer_key("e"))) == result.version


def test_cli_load_recs_takes_a_npy(redis_server, redis_client, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.store.cli",))
    monkeypatch.setenv("BOTIFY_REDIS_URL", redis_server.url)
    monkeypatch.chdir(tmp_path)
    path = save(tmp_path / "e.npy", matrix())
    assert botify.cli.main(["load", "recs", "sasrec_embeddings", path]) == 0
    assert re.search(r"5 embeddings rows with a vector, version \d+", capsys.readouterr().out)
    np.save(tmp_path / "bad.npy", np.zeros((2, 2)))
    assert botify.cli.main(["load", "recs", "sasrec_embeddings", str(tmp_path / "bad.npy")]) == 2
    err = capsys.readouterr().err
    assert "bad.npy: embeddings must be a 2-D float32 array" in err and "Traceback" not in err
