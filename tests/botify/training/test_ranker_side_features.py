"""The contextual ranker with the catalog as side features (artist and genre embeddings)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.training.catalog import TrackCatalog
from botify.training.ranker import ContextualRanker, _under_cap

GENRES, ARTISTS, TRACKS = 2, 8, 12  # per genre, per artist
FAST = {"dim": 16, "epochs": 8, "batch_size": 256, "lr": 0.03, "progress": False}


def _catalog_records() -> list[dict]:
    records = []
    for g in range(GENRES):
        for a in range(ARTISTS):
            for t in range(TRACKS):
                track = 10 + 2 * ((g * ARTISTS + a) * TRACKS + t)  # gaps and an offset
                artist = f"A{g}-{a}"
                records.append({"track": track, "artist": artist, "title": "t", "genre": f"G{g}"})
    return records


def _partner(artist: str) -> str:
    """The planted signal: artist ``Ag-a`` is followed well only by ``Ag-(a+1)``."""
    genre, index = artist[1:].split("-")
    return f"A{genre}-{(int(index) + 1) % ARTISTS}"


@pytest.fixture(scope="module")
def planted():
    """Sparse transitions: about three per track, long after the partner artist, short otherwise.

    The last track of every artist ``A*-0`` never appears, nor does anything of artist ``A0-5``.
    """
    return _planted()


def _planted():
    records = _catalog_records()
    by_artist: dict[str, list[int]] = {}
    for r in records:
        by_artist.setdefault(r["artist"], []).append(r["track"])
    unseen = {tracks[-1] for artist, tracks in by_artist.items() if artist.endswith("-0")}
    unseen |= set(by_artist["A0-5"])
    artist_of = {r["track"]: r["artist"] for r in records}
    seen = np.array(sorted(set(artist_of) - unseen))
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(3 * len(records)):
        prev = int(rng.choice(seen))
        pool = [t for t in by_artist[_partner(artist_of[prev])] if t not in unseen]
        if pool and rng.random() < 0.5:
            nxt = int(rng.choice(pool))
        else:
            nxt = int(rng.choice(seen))
        time = 0.9 if artist_of[nxt] == _partner(artist_of[prev]) else 0.05
        rows.append((prev, nxt, time))
    prev, nxt, time = zip(*rows, strict=True)
    pairs = pd.DataFrame({"prev": prev, "next": nxt, "time": time})
    return TrackCatalog.from_records(records), artist_of, pairs, sorted(unseen)


def _partner_precision(lists, artist_of, k: int) -> float:
    hits = [
        np.mean([artist_of[int(t)] == _partner(artist_of[int(key)]) for t in items[:k]])
        for key, items in zip(lists.keys.tolist(), lists.items, strict=True)
        if len(items)
    ]
    return float(np.mean(hits))


@pytest.mark.parametrize("variant", ["dot", "cosine"])
def test_side_features_beat_the_plain_ranker_where_artists_carry_the_signal(planted, variant):
    catalog, artist_of, pairs, _ = planted
    side = ContextualRanker(variant=variant, catalog=catalog, per_artist=TRACKS, **FAST)
    plain = ContextualRanker(variant=variant, min_count=1, **FAST)
    side_lists = side.fit(pairs).recommendations(k=10)
    plain_lists = plain.fit(pairs).recommendations(k=10)
    side_precision = _partner_precision(side_lists, artist_of, 10)
    plain_precision = _partner_precision(plain_lists, artist_of, 10)
    # random in-genre lists would hit 1/8 of the time, random in the catalog 1/24
    assert side_precision > 0.8
    assert side_precision > plain_precision + 0.3
    # with the catalog, every catalog track has a list
    assert len(side_lists) == len(catalog.tracks)


def test_unseen_tracks_fall_back_to_their_artist_and_genre(planted):
    catalog, artist_of, pairs, unseen = planted
    ranker = ContextualRanker(catalog=catalog, per_artist=TRACKS, **FAST).fit(pairs)
    pos = ranker.tracks.lookup(np.array(unseen))
    artist, genre = ranker.artist[pos], ranker.genre[pos]
    tables = ranker.side_tables
    expected = tables["artist_candidate"][artist] + tables["genre_candidate"][genre]
    assert np.allclose(ranker.candidate_embeddings[pos], expected)
    # an unseen track of a known artist scores like its partner-artist peers, above other artists
    lists = ranker.recommendations(k=TRACKS).as_dict()
    by_artist = {}
    for track, name in artist_of.items():
        by_artist.setdefault(name, []).append(track)
    for track in unseen:
        if artist_of[track] == "A0-5":
            continue
        key = by_artist[f"A{artist_of[track][1]}-{ARTISTS - 1}"][0]  # the partner's predecessor
        assert track in lists[key]
    # the artist never heard: its tracks do not outrank the seen partner tracks of A0-4
    key = by_artist["A0-4"][0]
    listed = lists[key]
    assert not set(by_artist["A0-5"]) & set(listed[:TRACKS // 2])


def test_lists_stay_in_genre_and_cap_artists(planted):
    catalog, artist_of, pairs, _ = planted
    ranker = ContextualRanker(catalog=catalog, per_artist=2, **FAST).fit(pairs)
    lists = ranker.recommendations(k=10)
    genre_of = {int(t): int(g) for t, g in zip(catalog.tracks.ids, catalog.genre, strict=True)}
    for key, items, weights in zip(lists.keys.tolist(), lists.items, lists.weights, strict=True):
        assert len(items) == 10 and key not in items.tolist()
        assert all(genre_of[int(t)] == genre_of[key] for t in items)
        counts: dict[str, int] = {artist_of[key]: 1}
        for t in items.tolist():
            counts[artist_of[t]] = counts.get(artist_of[t], 0) + 1
        assert max(counts.values()) <= 2
        assert np.all(np.diff(weights) <= 1e-6)
        assert np.allclose(weights, ranker.predict(np.full(len(items), key), items), atol=1e-5)
    again = ContextualRanker(catalog=catalog, per_artist=2, **FAST).fit(pairs).recommendations(k=10)
    assert all(np.array_equal(a, b) for a, b in zip(lists.items, again.items, strict=True))


def test_under_cap_against_a_loop():
    rng = np.random.default_rng(0)
    artists = rng.integers(0, 5, size=(50, 12))
    own = rng.integers(0, 5, size=50)
    got = _under_cap(artists, own, 2)
    for row in range(50):
        counts = {int(own[row]): 1}
        for j, a in enumerate(artists[row].tolist()):
            expected = counts.get(a, 0) < 2
            if expected:
                counts[a] = counts.get(a, 0) + 1
            assert got[row, j] == expected


def test_save_and_load_keep_the_side_lists(planted, tmp_path):
    catalog, _, pairs, _ = planted
    ranker = ContextualRanker(catalog=catalog, **FAST).fit(pairs)
    ranker.save(tmp_path / "ranker.npz")
    loaded = ContextualRanker.load(tmp_path / "ranker.npz")
    a, b = ranker.recommendations(k=5), loaded.recommendations(k=5)
    assert np.array_equal(a.keys, b.keys)
    assert all(np.array_equal(x, y) for x, y in zip(a.items, b.items, strict=True))
