"""The world generator and the world files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import orjson
import pytest

from sim.errors import SimError
from sim.world import WorldParams, generate_world, load_world, save_world
from sim.world.files import EMBEDDINGS_FILE, TRACKS_FILE, USERS_FILE

FILES = (TRACKS_FILE, EMBEDDINGS_FILE, USERS_FILE)


def _generate(seed, out, tracks=600, users=80):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.world",
            "--seed",
            str(seed),
            "--tracks",
            str(tracks),
            "--users",
            str(users),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )


def test_same_seed_gives_byte_identical_files(tmp_path):
    _generate(3, tmp_path / "a")
    _generate(3, tmp_path / "b")
    _generate(4, tmp_path / "c")
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(FILES)


def test_files_follow_the_catalog_and_user_formats(world_dir, small_world):
    lines = (world_dir / TRACKS_FILE).read_bytes().splitlines()
    assert len(lines) == small_world.n_tracks
    records = [orjson.loads(line) for line in lines]
    assert [r["track"] for r in records] == list(range(small_world.n_tracks))
    for r in records[:50]:
        assert isinstance(r["artist"], str) and r["artist"]
        assert isinstance(r["title"], str) and r["title"]
        assert isinstance(r["genre"], str) and 1960 <= r["year"] <= 2025
    emb = np.load(world_dir / EMBEDDINGS_FILE, allow_pickle=False)
    assert emb.dtype == np.float32 and emb.shape == (small_world.n_tracks, 32)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    users = [orjson.loads(line) for line in (world_dir / USERS_FILE).read_bytes().splitlines()]
    assert len(users) == small_world.n_users
    for u in users:
        assert 1 <= len(u["interests"]) <= 6
        assert len(set(u["interests"])) == len(u["interests"])
        assert all(0 <= t < small_world.n_tracks for t in u["interests"])
        assert u["session_budget"] >= 1 and 0 < u["artist_discount_gamma"] < 1


def test_artist_names_are_unique_per_artist(small_world):
    assert len(set(small_world.artist_names)) == small_world.n_artists


def test_embeddings_are_structured_by_artist_then_genre(small_world):
    emb = small_world.embeddings.astype(np.float64)
    sims = emb @ emb.T
    same_artist = small_world.artist_of[:, None] == small_world.artist_of[None, :]
    genres = np.array(small_world.genres)
    same_genre = (genres[:, None] == genres[None, :]) & ~same_artist
    off_diagonal = ~np.eye(len(emb), dtype=bool)
    artist_mean = sims[same_artist & off_diagonal].mean()
    genre_mean = sims[same_genre].mean()
    other_mean = sims[~same_artist & ~same_genre].mean()
    # Independent expectation: |c + s u|^2 is about 1 + s^2 for a unit centre c and a unit noise u
    # nearly orthogonal to it, so each level of noise shrinks inner products by 1 / (1 + s^2).
    p = WorldParams()
    track_shrink = 1.0 / (1.0 + p.track_spread**2)
    artist_shrink = 1.0 / (1.0 + p.artist_spread**2)
    assert abs(artist_mean - track_shrink) < 0.05
    assert abs(genre_mean - track_shrink * artist_shrink) < 0.05
    assert genre_mean < artist_mean - 0.1 and abs(other_mean) < 0.1


def test_small_worlds_still_have_many_genres(small_world):
    # 2,000 tracks would make 1 genre at 2,500 tracks per genre; the floor keeps 10
    assert len(set(small_world.genres)) == WorldParams().min_genres == 10
    assert len(set(generate_world(1, 110_000, 5).genres)) == 40


def test_artist_popularity_is_heavy_tailed(small_world):
    counts = np.bincount(small_world.artist_of)
    # the biggest artists hold far more tracks than the median one
    assert counts.max() >= 4 * np.median(counts)
    interests = small_world.interest_tracks
    per_artist = np.bincount(small_world.artist_of[interests], minlength=small_world.n_artists)
    top = np.sort(per_artist)[::-1]
    # interests are drawn by popularity: the top 10% of artists hold most of them
    assert top[: small_world.n_artists // 10].sum() > 0.5 * top.sum()


def test_load_round_trip(world_dir, small_world):
    loaded = load_world(world_dir)
    for name in (
        "track_ids",
        "artist_of",
        "years",
        "embeddings",
        "user_ids",
        "interest_offsets",
        "interest_tracks",
        "consume_bias",
        "consume_sharpness",
        "session_budget",
        "artist_gamma",
        "interest_neighbours",
    ):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(small_world, name), name)
    assert loaded.artist_names == small_world.artist_names
    assert loaded.titles == small_world.titles and loaded.genres == small_world.genres
    resaved = save_world(loaded, world_dir.parent / "resaved")
    for name in FILES:
        assert (resaved / name).read_bytes() == (world_dir / name).read_bytes()


def test_nearest_matches_a_brute_force_sort(small_world):
    queries = [0, 17, 1999, 17]
    emb = small_world.embeddings
    for query, got in zip(queries, small_world.nearest(queries, 10), strict=True):
        scores = emb @ emb[query]
        expected = np.lexsort((np.arange(len(scores)), -scores))[:10]
        np.testing.assert_array_equal(got, expected)
        assert got[0] == query


def _copy_world(world_dir, tmp_path):
    for name in FILES:
        (tmp_path / name).write_bytes((world_dir / name).read_bytes())
    return tmp_path


def test_user_fields_left_out_take_the_defaults(world_dir, tmp_path):
    from sim.world import UserDefaults

    d = _copy_world(world_dir, tmp_path)
    (d / USERS_FILE).write_bytes(b'{"user": 7, "interests": [3, 4]}\n')
    world = load_world(d, UserDefaults(consume_bias=0.3, session_budget=9))
    assert world.consume_bias.tolist() == [0.3] and world.session_budget.tolist() == [9]
    assert world.artist_gamma.tolist() == [0.8] and world.interest_neighbours.tolist() == [10]
    assert world.interests(0).tolist() == [3, 4]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            USERS_FILE,
            b'{"user": 1, "interests": [3]}\n{"user": 2, "interests": [99999]}\n',
            "users.jsonl:2: interest 99999 is not a track",
        ),
        (USERS_FILE, b'{"user": 1, "interests": [3]}\nnot json\n', "users.jsonl:2: not JSON"),
        (USERS_FILE, b'{"user": "x", "interests": [3]}\n', "field 'user' must be int"),
        (TRACKS_FILE, b'{"track": 0, "title": "a"}\n', "tracks.jsonl:1: missing field 'artist'"),
        (EMBEDDINGS_FILE, b"garbage", "embeddings.npy: not a numpy array file"),
    ],
    ids=["unknown-interest", "bad-json", "bad-type", "missing-artist", "bad-npy"],
)
def test_malformed_files_give_clear_errors(world_dir, tmp_path, name, content, message):
    d = _copy_world(world_dir, tmp_path)
    (d / name).write_bytes(content)
    with pytest.raises(SimError, match=message):
        load_world(d)


def test_missing_world_names_the_generator(tmp_path):
    with pytest.raises(SimError, match="python -m sim.world"):
        load_world(tmp_path / "nowhere")


def test_generation_is_deterministic_in_memory():
    a = generate_world(9, 300, 40)
    b = generate_world(9, 300, 40)
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    np.testing.assert_array_equal(a.interest_tracks, b.interest_tracks)
    assert a.titles == b.titles
