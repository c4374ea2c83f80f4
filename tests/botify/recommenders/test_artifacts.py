"""Recommendation artifacts in Redis: formats, line-numbered errors, atomic versions, the CLI."""

from __future__ import annotations

import re
import threading

import numpy as np
import orjson
import pytest

import botify.cli
from botify.errors import DataError
from botify.store.artifacts import (
    ArtifactReader,
    Entry,
    _decode_entry,
    artifact_info,
    artifact_key,
    load_artifact,
    load_configured_artifacts,
    pack_entry,
    pointer_key,
    version_key,
)
from tests.botify.recommenders.conftest import write_jsonl


def test_each_kind_loads_and_reads_back(redis_client, tmp_path):
    reader = ArtifactReader(redis_client)
    load_artifact(
        redis_client,
        "u",
        write_jsonl(
            tmp_path / "u.jsonl", [{"user": 1, "tracks": [3, 2, 1]}, {"user": 2, "tracks": []}]
        ),
    )
    load_artifact(
        redis_client,
        "t",
        write_jsonl(
            tmp_path / "t.jsonl",
            [
                {"track": 5, "recommendations": [6, 7], "weights": [0.5, 1]},
                {"track": 6, "recommendations": [5]},
            ],
        ),
    )
    # A ranking out of order is served in descending score order.
    result = load_artifact(
        redis_client,
        "r",
        write_jsonl(
            tmp_path / "r.jsonl",
            [{"track": 1, "score": 2.0}, {"track": 2, "score": 9.5}, {"track": 3, "score": 4}],
        ),
    )
    assert (result.kind, result.count) == ("ranking", 3)
    assert reader.entries("u", [1, 2, 3]) == [Entry((3, 2, 1)), Entry(()), None]
    assert reader.entries("t", [5, 6]) == [Entry((6, 7), (0.5, 1.0)), Entry((5,))]
    ranking = reader.ranking("r")
    assert ranking.tracks.tolist() == [2, 3, 1]
    assert ranking.by_score([1, 3, 99]) == [3, 1]
    assert artifact_info(redis_client, "u")["kind"] == "per_user"


@pytest.mark.parametrize(
    ("tracks", "code", "item"),
    [([0, 65_535, 7], b"H", 2), ([-1, 3], b"i", 4), ([70_000, 2**31 - 1], b"i", 4),
     ([2**40, 5], b"q", 8), ([], b"H", 2)],
    ids=["uint16", "negative", "int32", "int64", "empty"],
)
def test_lists_are_packed_in_the_smallest_id_type_and_read_back(tracks, code, item):
    packed = pack_entry(tracks)
    assert packed[:1] == code and len(packed) == 5 + item * len(tracks)
    assert _decode_entry(packed) == Entry(tuple(tracks))
    weights = [0.5 + i for i in range(len(tracks))]
    with_weights = pack_entry(tracks, weights)
    assert len(with_weights) == len(packed) + 4 * len(tracks)
    assert _decode_entry(with_weights) == Entry(tuple(tracks), tuple(weights) if tracks else None)


def test_packed_lists_are_half_the_json_text_or_less():
    rng = np.random.default_rng(0)
    tracks = rng.choice(50_000, 100, replace=False).tolist()
    weights = np.sort(rng.random(100))[::-1].round(6).tolist()
    assert len(pack_entry(tracks)) < 0.5 * len(orjson.dumps([tracks]))
    assert len(pack_entry(tracks, weights)) < 0.5 * len(orjson.dumps([tracks, weights]))


def test_lists_loaded_as_json_before_packing_still_read():
    assert _decode_entry(b"[[3, 1]]") == Entry((3, 1))
    assert _decode_entry(b"[[3, 1], [0.5, 0.25]]") == Entry((3, 1), (0.5, 0.25))


@pytest.mark.parametrize("raw", [None, b"", b"H\x02\x00\x00", b"H\x02\x00\x00\x00\x01",
                                 b"[[1, 2", b"Z\x01\x00\x00\x00\x01\x00", 7])
def test_anything_but_a_packed_list_reads_as_missing(raw):
    assert _decode_entry(raw) is None


def test_unknown_artifact_reads_as_missing(redis_client):
    reader = ArtifactReader(redis_client)
    assert reader.entries("nothing", [1]) == [None]
    assert reader.ranking("nothing") is None


BAD_LINES = [
    ("not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"foo": 1}', "not an artifact record"),
    ('{"user": "x", "tracks": [1]}', '"user" must be'),
    ('{"user": true, "tracks": [1]}', '"user" must be'),
    ('{"user": -1, "tracks": [1]}', '"user" must be'),
    ('{"user": 3, "tracks": [1.5]}', '"tracks" must hold'),
    ('{"user": 3, "tracks": 7}', '"tracks" must be a list'),
    ('{"track": 3, "recommendations": [1]}', "a per_track record in a per_user artifact"),
    ('{"user": 1, "tracks": [2]}', "appears twice"),
]


@pytest.mark.parametrize("line,message", BAD_LINES, ids=[m for _, m in BAD_LINES])
def test_a_malformed_line_is_reported_and_nothing_is_switched(
    redis_client, tmp_path, line, message
):
    good = write_jsonl(tmp_path / "good.jsonl", [{"user": 1, "tracks": [2]}])
    load_artifact(redis_client, "m", good)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"user": 1, "tracks": [2]}\n\n' + line + '\n{"user": 9, "tracks": [1]}\n')
    with pytest.raises(DataError) as caught:
        load_artifact(redis_client, "m", bad)
    assert f"{bad}:3:" in str(caught.value) and message in str(caught.value)
    # The good version is still served, and the aborted one left no keys behind.
    assert ArtifactReader(redis_client).entries("m", [1, 9]) == [Entry((2,)), None]
    assert sorted(k.decode() for k in redis_client.keys(artifact_key("m", 2, "*"))) == []


@pytest.mark.parametrize(
    "records,message",
    [
        ([{"track": 1, "recommendations": [2, 3], "weights": [0.5]}], "one number per"),
        ([{"track": 1, "recommendations": [2], "weights": [float("nan")]}], "finite number"),
        ([{"track": 1, "score": "high"}], "finite number"),
    ],
    ids=["weights-length", "weights-nan", "score-type"],
)
def test_per_track_and_ranking_values_are_checked(redis_client, tmp_path, records, message):
    with pytest.raises(DataError, match=message):
        load_artifact(redis_client, "x", write_jsonl(tmp_path / "x.jsonl", records))


def test_missing_and_empty_files_are_data_errors(redis_client, tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_artifact(redis_client, "x", tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no records"):
        load_artifact(redis_client, "x", tmp_path / "empty.jsonl")
    assert redis_client.get(pointer_key("x")) is None


def test_a_reload_switches_readers_to_the_new_version(redis_client, tmp_path):
    reader = ArtifactReader(redis_client)
    versions = []
    for name, track in [("a", 1), ("b", 2)]:
        file = write_jsonl(tmp_path / f"{name}.jsonl", [{"user": 1, "tracks": [track]}])
        versions.append(load_artifact(redis_client, "v", file).version)
        if track == 1:
            assert reader.entries("v", [1]) == [Entry((1,))]
    assert versions[1] == versions[0] + 1
    # The reader had the first version cached: it notices the pointer moved within the lookup.
    assert reader.entries("v", [1]) == [Entry((2,))]
    # The old version stays readable for a grace period, then expires.
    assert 0 < redis_client.ttl(version_key("v", versions[0], "data")) <= 120


def test_readers_never_see_a_mix_of_versions(redis_client, tmp_path):
    keys = list(range(300))
    files = [
        write_jsonl(tmp_path / f"{v}.jsonl", [{"user": u, "tracks": [v]} for u in keys])
        for v in (1, 2)
    ]
    load_artifact(redis_client, "mix", files[0])
    mixed = []
    stop = threading.Event()

    def read():
        reader = ArtifactReader(redis_client)
        while not stop.is_set():
            values = {e.tracks for e in reader.entries("mix", keys)}
            if len(values) != 1:
                mixed.append(values)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(8):
            load_artifact(redis_client, "mix", files[i % 2 - 1])
    finally:
        stop.set()
        thread.join()
    assert mixed == []


def test_configured_artifacts_skip_missing_and_unchanged_files(redis_client, tmp_path):
    file = write_jsonl(tmp_path / "top.jsonl", [{"track": 1, "score": 1.0}])
    lines = []
    config = {"top": file, "gone": str(tmp_path / "gone.jsonl")}
    assert [r.name for r in load_configured_artifacts(redis_client, config, log=lines.append)] == [
        "top"
    ]
    assert load_configured_artifacts(redis_client, config, log=lines.append) == []
    assert any("not found" in line for line in lines) and any("already" in line for line in lines)
    write_jsonl(tmp_path / "top.jsonl", [{"track": 2, "score": 1.0}, {"track": 1, "score": 0.5}])
    first_version = redis_client.get(pointer_key("top"))
    (result,) = load_configured_artifacts(redis_client, {"top": file})
    assert result.version == int(first_version) + 1
    assert ArtifactReader(redis_client).ranking("top").tracks.tolist() == [2, 1]


def test_cli_load_recs(redis_server, redis_client, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.store.cli",))
    monkeypatch.setenv("BOTIFY_REDIS_URL", redis_server.url)
    monkeypatch.chdir(tmp_path)
    file = write_jsonl(tmp_path / "m.jsonl", [{"user": 4, "tracks": [8, 9]}])
    assert botify.cli.main(["load", "recs", "multidae", file]) == 0
    assert re.search(r"1 per_user records, version \d+", capsys.readouterr().out)
    assert ArtifactReader(redis_client).entries("multidae", [4]) == [Entry((8, 9))]
    (tmp_path / "bad.jsonl").write_text('{"user": 4, "tracks": [8]}\n{"user": 5\n')
    assert botify.cli.main(["load", "recs", "multidae", str(tmp_path / "bad.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2: not valid JSON" in err and "Traceback" not in err
    assert ArtifactReader(redis_client).entries("multidae", [4]) == [Entry((8, 9))]


def test_rankings_are_cached_per_version(redis_client, tmp_path):
    load_artifact(redis_client, "c", write_jsonl(tmp_path / "c.jsonl", [{"track": 1, "score": 1}]))
    reader = ArtifactReader(redis_client)
    first = reader.ranking("c")
    assert reader.ranking("c") is first
    assert isinstance(first.tracks, np.ndarray)


def test_versions_are_not_reused_after_redis_loses_its_data(redis_client, tmp_path):
    """A worker's cached ranking must not survive a Redis reset.

    Versions used to restart at 1 after a flush, so a process holding version 1 of a ranking in
    its cache served it for the new, different version 1.
    """
    reader = ArtifactReader(redis_client)
    load_artifact(
        redis_client, "top", write_jsonl(tmp_path / "a.jsonl", [{"track": 1, "score": 1.0}])
    )
    assert reader.ranking("top").tracks.tolist() == [1]
    redis_client.flushdb()
    load_artifact(
        redis_client, "top", write_jsonl(tmp_path / "b.jsonl", [{"track": 7, "score": 1.0}])
    )
    assert reader.ranking("top").tracks.tolist() == [7]


def test_a_reader_with_a_check_interval_trusts_the_version_it_confirmed(redis_client, tmp_path):
    import time

    first = write_jsonl(tmp_path / "a.jsonl", [{"track": 1, "recommendations": [2]}])
    second = write_jsonl(tmp_path / "b.jsonl", [{"track": 1, "recommendations": [3]}])
    ranking = write_jsonl(tmp_path / "r.jsonl", [{"track": 4, "score": 1.0}])
    load_artifact(redis_client, "lists", first)
    load_artifact(redis_client, "top", ranking)
    reader = ArtifactReader(redis_client, check_interval=0.5)
    assert reader.entries("lists", [1]) == [Entry((2,))]
    assert reader.ranking("top").tracks.tolist() == [4]
    load_artifact(redis_client, "lists", second)
    redis_client.delete(pointer_key("top"))  # a ranking within the interval asks Redis nothing
    started = time.monotonic()
    assert reader.entries("lists", [1]) == [Entry((2,))]  # the replaced version, still readable
    assert reader.ranking("top").tracks.tolist() == [4]
    assert time.monotonic() - started < 0.5
    time.sleep(0.5)
    assert reader.entries("lists", [1]) == [Entry((3,))]
    assert reader.ranking("top") is None
    # Without an interval every lookup reads the pointer.
    load_artifact(redis_client, "lists", first)
    assert ArtifactReader(redis_client).entries("lists", [1]) == [Entry((2,))]


def test_the_recommenders_on_one_client_share_one_reader_and_see_a_reload_together(
        redis_client, tmp_path):
    import time

    import numpy as np

    from botify.recommenders.base import RecommenderContext
    from botify.recommenders.registry import build_recommenders
    from botify.store.catalog import RedisCatalog, load_records

    load_records(redis_client, [{"track": t, "artist": "a", "title": "t"} for t in range(1, 6)])
    catalog = RedisCatalog(redis_client)
    catalog.sync()
    config = {"VERSION_CHECK_INTERVAL": 0.3}
    context = RecommenderContext(redis_client, catalog, config, np.random.default_rng(0))
    recommenders = build_recommenders(config, context)
    top_pop, hybrid = recommenders["top_pop"], recommenders["hybrid"]
    load_artifact(redis_client, "top_tracks",
                  write_jsonl(tmp_path / "a.jsonl", [{"track": 4, "score": 1.0}]))
    assert top_pop.reader.ranking("top_tracks").tracks.tolist() == [4]
    time.sleep(0.15)
    assert hybrid.reader.ranking("top_tracks").tracks.tolist() == [4]  # no new confirmation
    load_artifact(redis_client, "top_tracks",
                  write_jsonl(tmp_path / "b.jsonl", [{"track": 5, "score": 1.0}]))
    time.sleep(0.2)  # 0.35 s after the one confirmation: both see the reload
    assert top_pop.reader.ranking("top_tracks").tracks.tolist() == [5]
    assert hybrid.reader.ranking("top_tracks").tracks.tolist() == [5]
    other = RecommenderContext(redis_client, catalog, {}, np.random.default_rng(0))
    assert build_recommenders({}, other)["top_pop"].reader is not top_pop.reader
