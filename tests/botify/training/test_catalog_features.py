"""The catalog as side features: track codes, and item-to-item lists of every track (appeal.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from botify.errors import DataError
from botify.training.catalog import TrackCatalog
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
    # 103 is the key's own artist's; the list holds the other artists of its genre
    first = next(x for x in lines if x["track"] == 100)["recommendations"]
    assert len(first) == 5 and 103 not in first
