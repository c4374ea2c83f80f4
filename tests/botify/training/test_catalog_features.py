"""The catalog as side features: item-to-item lists filled up from the key's genre."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from botify.errors import DataError
from botify.training.catalog import TrackCatalog
from botify.training.cooccurrence import Cooccurrence
from botify.training.pipeline import TrainSettings, train


def _records(n_genres: int = 3, artists_per_genre: int = 6, tracks_per_artist: int = 4) -> list:
    records = []
    track = 100  # ids with an offset and gaps: nothing may assume 0..N-1
    for g in range(n_genres):
        for a in range(artists_per_genre):
            for _ in range(tracks_per_artist):
                records.append(
                    {"track": track, "artist": f"A{g}-{a}", "title": "t", "genre": f"G{g}"}
                )
                track += 3
    return records


def _pairs(rows: list[tuple[int, int, float]]) -> pd.DataFrame:
    prev, nxt, time = zip(*rows, strict=True)
    return pd.DataFrame({"prev": prev, "next": nxt, "time": time})


def test_catalog_codes_and_missing_genre():
    catalog = TrackCatalog.from_records(
        [
            {"track": 7, "artist": "x", "title": "a", "genre": "rock"},
            {"track": 3, "artist": "y", "title": "b"},
            {"track": 5, "artist": "y", "title": "c", "genre": "rock"},
        ]
    )
    assert catalog.tracks.ids.tolist() == [3, 5, 7]
    pos, artist, genre = catalog.codes(np.array([5, 7, 4]))
    assert pos.tolist() == [1, 2, -1]
    assert artist[0] != artist[1] and artist[2] == -1
    assert genre[0] == genre[1]
    # a track without a genre is in its artist's own genre, not in "rock"
    assert catalog.genre[0] not in (genre[0],)
    with pytest.raises(DataError):
        TrackCatalog.from_records([{"track": 1, "artist": "a", "title": "t"}] * 2)


def test_lists_cover_the_catalog_by_genre_and_artist():
    records = _records()
    catalog = TrackCatalog.from_records(records)
    genre = {r["track"]: r["genre"] for r in records}
    artist = {r["track"]: r["artist"] for r in records}
    cooc = Cooccurrence(k=10).fit(_pairs([(100, 103, 0.9)]))
    lists = cooc.with_catalog(catalog, k=8, per_artist=2, seed=1).as_dict()
    assert sorted(lists) == sorted(genre)
    for key, items in lists.items():
        items = items.tolist()
        # 6 artists in the genre, one track each but the key's own; key 100 also has its observed
        # next track 103, of its own artist
        assert len(items) == (6 if key == 100 else 5)
        assert key not in items and len(set(items)) == len(items)
        assert all(genre[t] == genre[key] for t in items)
        counts = {}
        for t in [key, *items]:
            counts[artist[t]] = counts.get(artist[t], 0) + 1
        assert max(counts.values()) <= 2
    # the observed, well-listened next track comes first
    assert lists[100][0] == 103


def test_observed_lists_first_and_skips_dropped():
    catalog = TrackCatalog.from_records(_records())
    pairs = _pairs([(100, 112, 0.9), (100, 112, 0.8), (100, 124, 0.7), (100, 136, 0.05)])
    lists = Cooccurrence().fit(pairs).with_catalog(catalog, k=8, min_observed=0.5).as_dict()
    assert lists[100][:2].tolist() == [112, 124]
    assert 136 not in lists[100][:2].tolist()
    # an observed track outside the catalog is not listed
    outside = Cooccurrence().fit(_pairs([(100, 99999, 1.0)])).with_catalog(catalog, k=8)
    assert 99999 not in np.concatenate(outside.items)


def test_deterministic_by_seed_and_orders_differ_per_key():
    catalog = TrackCatalog.from_records(_records(artists_per_genre=30))
    cooc = Cooccurrence().fit(_pairs([(100, 103, 0.9)]))
    a = cooc.with_catalog(catalog, k=10, seed=3)
    b = cooc.with_catalog(catalog, k=10, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a.items, b.items, strict=True))
    firsts = {int(items[0]) for items in a.items[10:]}
    assert len(firsts) > 5  # not one order shared by every key


def test_pipeline_with_catalog_lists_every_track(tmp_path):
    records = _records()
    path = tmp_path / "tracks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    events = pd.DataFrame(
        {
            "message": ["next", "next", "last"],
            "timestamp": [1, 2, 3],
            "user": [1, 1, 1],
            "track": [100, 103, 112],
            "time": [1.0, 0.9, 0.8],
        }
    )
    settings = TrainSettings(models=["i2i_cooc"], catalog=path, progress=False, track_k=5)
    written = train(events, tmp_path / "out", settings)
    lines = [json.loads(x) for x in written["i2i_cooc"].read_text().splitlines()]
    assert len(lines) == len(records)
    assert next(x for x in lines if x["track"] == 100)["recommendations"][0] == 103
