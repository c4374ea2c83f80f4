"""The catalog in Redis: versioned loads, the per-process cache, and ``botify load catalog``."""

import json

import numpy as np
import pytest
from scipy import stats

import botify.cli
from botify.errors import DataError
from botify.store.catalog import (
    CURRENT_KEY,
    RedisCatalog,
    load_catalog,
    load_records,
    synthetic_records,
    version_key,
    write_records,
)

RECORDS = [
    {"track": 10, "artist": "A", "title": "a1", "genre": "rock", "year": 1999},
    {"track": 11, "artist": "A", "title": "a2"},
    {"track": 20, "artist": "B", "title": "b1", "genre": "rock"},
    {"track": 7, "artist": "C", "title": "c1"},
    {"track": 12, "artist": "A", "title": "a3"},
]


@pytest.fixture(autouse=True)
def only_store_commands(monkeypatch):
    # The other command modules belong to other packages; this file tests `botify load` alone.
    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.store.cli",))


def main(argv):
    return botify.cli.main(argv)


@pytest.fixture()
def catalog_file(tmp_path):
    return write_records(tmp_path / "tracks.jsonl", RECORDS)


def test_load_and_read(redis_client, catalog_file):
    result = load_catalog(redis_client, catalog_file)
    assert (result.tracks, result.artists, result.changed) == (5, 3, True)
    catalog = RedisCatalog(redis_client)
    assert catalog.sync() == result.version
    assert len(catalog) == 5
    assert sorted(catalog.artist_tracks(11)) == [10, 11, 12]
    assert list(catalog.artist_tracks(7)) == [7]
    assert list(catalog.artist_tracks(99)) == []
    assert catalog.contains(20) and not catalog.contains(21)
    assert catalog.known([21, 20, 7, 99, 10, 20], exclude={10}) == [20, 7, 20]
    assert catalog.record(10) == RECORDS[0]
    assert catalog.record(99) is None
    assert catalog.info()["tracks"] == "5"
    assert sorted(catalog.genre_tracks(20)) == [10, 20]
    assert list(catalog.genre_tracks(11)) == [] and list(catalog.genre_tracks(99)) == []


def test_same_file_twice_is_unchanged(redis_client, catalog_file):
    first = load_catalog(redis_client, catalog_file)
    second = load_catalog(redis_client, catalog_file)
    assert not second.changed and second.version == first.version


def test_a_version_without_genres_is_loaded_again(redis_client, catalog_file):
    # As written before genres were kept: the same digest, but no genres.
    first = load_catalog(redis_client, catalog_file)
    redis_client.hdel(version_key(first.version, "meta"), "genres")
    redis_client.delete(version_key(first.version, "genres"))
    second = load_catalog(redis_client, catalog_file)
    assert second.changed and second.version != first.version
    catalog = RedisCatalog(redis_client)
    catalog.sync()
    assert sorted(catalog.genre_tracks(10)) == [10, 20]


def test_reload_switches_and_old_version_expires(redis_client, catalog_file, tmp_path):
    first = load_catalog(redis_client, catalog_file)
    catalog = RedisCatalog(redis_client)
    catalog.sync()
    other = write_records(tmp_path / "other.jsonl", [{"track": 1, "artist": "Z", "title": "z"}])
    second = load_catalog(redis_client, other)
    assert second.version != first.version
    # The cached version still answers until the next sync, and its keys still exist for a while.
    assert catalog.contains(10)
    assert catalog.record(10) == RECORDS[0]
    assert 0 < redis_client.ttl(version_key(first.version, "tracks")) <= 60
    assert redis_client.ttl(version_key(second.version, "tracks")) == -1
    assert catalog.sync() == second.version
    assert not catalog.contains(10) and catalog.contains(1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"track": 1, "artist": "a", "title": "t"}\n{oops\n', r"tracks.jsonl:2: not JSON"),
        ('[1, 2]\n', r"tracks.jsonl:1: a track must be a JSON object"),
        ('{"track": "1", "artist": "a", "title": "t"}\n', r"tracks.jsonl:1: 'track' must be"),
        ('{"track": -1, "artist": "a", "title": "t"}\n', r"tracks.jsonl:1: 'track' must be"),
        ('{"track": true, "artist": "a", "title": "t"}\n', r"tracks.jsonl:1: 'track' must be"),
        ('{"track": 1, "title": "t"}\n', r"tracks.jsonl:1: 'artist' must be a string"),
        ('{"track": 1, "artist": "a", "title": 5}\n', r"tracks.jsonl:1: 'title' must be a string"),
        ('{"track": 1, "artist": "a", "title": "t"}\n' * 2, r"track 1 appears twice"),
        ("\n", r"holds no tracks"),
    ],
    ids=["not-json", "not-object", "id-string", "id-negative", "id-bool", "no-artist", "title-int",
         "duplicate", "empty"],
)
def test_malformed_file_writes_nothing(redis_client, tmp_path, content, message):
    path = tmp_path / "tracks.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_catalog(redis_client, path)
    assert redis_client.dbsize() == 0


def test_missing_file(redis_client, tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_catalog(redis_client, tmp_path / "nope.jsonl")


def test_random_track_is_uniform(redis_client):
    load_records(redis_client, synthetic_records(50, 7, rng=1))
    catalog = RedisCatalog(redis_client)
    rng = np.random.default_rng(0)
    draws = [catalog.random_track(rng) for _ in range(20_000)]
    counts = np.bincount(draws, minlength=50)
    assert counts.min() > 0 and len(counts) == 50
    assert stats.chisquare(counts).pvalue > 1e-4


def test_empty_catalog(redis_client):
    catalog = RedisCatalog(redis_client)
    assert catalog.sync() is None and len(catalog) == 0
    assert not catalog.contains(1)
    with pytest.raises(DataError, match="catalog is empty"):
        catalog.random_track(np.random.default_rng(0))


def test_sparse_ids_are_kept(redis_client):
    records = [{"track": t, "artist": "a", "title": "t"} for t in (5, 2**40, 2**63 - 1)]
    load_records(redis_client, records)
    catalog = RedisCatalog(redis_client)
    assert list(catalog.ids()) == [5, 2**40, 2**63 - 1]
    assert catalog.record(2**63 - 1)["track"] == 2**63 - 1


def test_cli_load_catalog(redis_server, redis_client, catalog_file, monkeypatch, capsys):
    monkeypatch.setenv("BOTIFY_REDIS_URL", redis_server.url)
    monkeypatch.chdir(catalog_file.parent)
    assert main(["load", "catalog", str(catalog_file)]) == 0
    assert "5 tracks, 3 artists" in capsys.readouterr().out
    assert redis_client.get(CURRENT_KEY) is not None
    assert main(["load", "catalog", str(catalog_file)]) == 0
    assert "unchanged" in capsys.readouterr().out


def test_cli_bad_file_is_a_message(redis_server, redis_client, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BOTIFY_REDIS_URL", redis_server.url)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"track": 1}) + "\n")
    assert main(["load", "catalog", str(path)]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:1: 'artist' must be a string" in err and "Traceback" not in err


def test_cli_no_redis_is_a_message(tmp_path, monkeypatch, capsys):
    from botify.store.redis_server import free_port

    monkeypatch.setenv("BOTIFY_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.chdir(tmp_path)
    assert main(["load", "catalog", str(tmp_path / "x.jsonl")]) == 2
    assert "does not answer" in capsys.readouterr().err


def test_a_catalog_loaded_after_redis_lost_its_data_is_seen(redis_client):
    """Version numbers must not restart at 1 after a flush: a worker holding version 1 in its
    cache would keep serving the old catalog for the new one."""
    catalog = RedisCatalog(redis_client)
    load_records(redis_client, RECORDS)
    catalog.sync()
    assert catalog.contains(10)
    redis_client.flushdb()
    load_records(redis_client, [{"track": 99, "artist": "Z", "title": "z"}])
    catalog.sync()
    assert catalog.contains(99) and not catalog.contains(10)
