"""The factorization with side features on hand-made logs whose right answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.errors import ConfigError, DataError
from botify.registry import MODELS
from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import EMBEDDINGS
from botify.training.catalog import TrackCatalog
from botify.training.hybrid_mf import HybridMF
from botify.training.model import TrainData, outputs
from botify.training.pipeline import TrainSettings, fit_model

# Two genres of four artists with eight tracks each; 24 users per genre. Every user listens long
# (0.95) to half of their genre's tracks and briefly (0.1) to a few of the other genre's.
GENRES, ARTISTS, TRACKS, USERS = 2, 4, 8, 24
# Catalog tracks no event plays: per genre, one by a known artist and one by a new artist.
COLD = {0: (1000, 1001), 1: (1002, 1003)}
FAST = {"dim": 16, "epochs": 20, "batch_size": 256, "lr": 0.1, "l2": 0.003, "progress": False}


def _track(genre: int, artist: int, index: int) -> int:
    return 10 + 3 * ((genre * ARTISTS + artist) * TRACKS + index)  # gaps and an offset


def _catalog() -> TrackCatalog:
    records = [
        {"track": _track(g, a, t), "artist": f"A{g}-{a}", "title": "t", "genre": f"G{g}"}
        for g in range(GENRES) for a in range(ARTISTS) for t in range(TRACKS)
    ]
    for genre, (known_artist, new_artist) in COLD.items():
        records.append({"track": known_artist, "artist": f"A{genre}-0", "title": "t",
                        "genre": f"G{genre}"})
        records.append({"track": new_artist, "artist": f"N{genre}", "title": "t",
                        "genre": f"G{genre}"})
    return TrackCatalog.from_records(records)


def _log(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user", "track", "time"])
    frame["timestamp"] = range(len(frame))
    frame["session"] = frame["user"]
    return frame


def _two_genres() -> tuple[pd.DataFrame, dict[int, int]]:
    """The log and each user's genre."""
    rng = np.random.default_rng(5)
    rows, genre_of = [], {}
    for genre in range(GENRES):
        mine = [_track(genre, a, t) for a in range(ARTISTS) for t in range(TRACKS)]
        other = [_track(1 - genre, a, t) for a in range(ARTISTS) for t in range(TRACKS)]
        for i in range(USERS):
            user = 100 * genre + i
            genre_of[user] = genre
            rows += [(user, int(t), 0.95) for t in rng.choice(mine, len(mine) // 2, replace=False)]
            rows += [(user, int(t), 0.1) for t in rng.choice(other, 3, replace=False)]
    return _log(rows), genre_of


def _genre(track: int) -> int:
    cold = {t: g for g, pair in COLD.items() for t in pair}
    return cold[track] if track in cold else (track - 10) // 3 // (ARTISTS * TRACKS)


@pytest.fixture(scope="module")
def planted():
    return _two_genres()


@pytest.fixture(scope="module", params=["bpr", "warp"])
def fitted(request, planted):
    sessions, _ = planted
    return HybridMF(loss=request.param, catalog=_catalog(), k=5, track_k=5, **FAST).fit(sessions)


def test_registered_per_user_with_per_track_lists_and_trained_on_request():
    cls = MODELS.get("hybrid_mf")
    assert outputs(cls) == {"hybrid_mf": PER_USER, "hybrid_mf_i2i": PER_TRACK,
                            "hybrid_mf_embeddings": EMBEDDINGS}
    assert cls.needs == () and cls.default is False
    assert "hybrid_mf" not in TrainSettings().models


def test_each_user_gets_unheard_tracks_of_their_genre(planted, fitted):
    sessions, genre_of = planted
    heard = sessions.groupby("user")["track"].agg(set).to_dict()
    lists = fitted.user_lists().as_dict()
    assert set(lists) == set(genre_of)
    for user, items in lists.items():
        assert len(items) == 5
        assert not set(items.tolist()) & heard[user]
        assert [_genre(t) for t in items.tolist()] == [genre_of[user]] * 5, user
    assert fitted.losses[-1] < fitted.losses[0]


def test_cold_catalog_tracks_of_a_users_genre_rank_above_the_other_genres(planted, fitted):
    _, genre_of = planted
    for user, genre in genre_of.items():
        mine, other = np.array(COLD[genre]), np.array(COLD[1 - genre])
        users = np.full(2, user)
        assert fitted.scores(users, mine).min() > fitted.scores(users, other).max(), user


def test_a_cold_track_is_its_artist_plus_its_genre(fitted):
    position = fitted.tracks.lookup(np.array([1000, 1001, _track(0, 0, 0)]))
    known_artist, new_artist, sibling = fitted.track_factors[position]
    # The new artist has no logged track: the cold track is its genre's embedding alone.
    assert np.linalg.norm(known_artist - new_artist) > 0.1
    assert np.linalg.norm(new_artist) > 0.1
    # A logged track of the same artist is the cold one plus its own id embedding.
    assert np.linalg.norm(sibling - known_artist) > 0


def test_track_lists_are_the_nearest_tracks_of_the_genre(fitted):
    lists = fitted.track_lists()
    assert len(lists) == GENRES * ARTISTS * TRACKS + 4
    for track, items in lists.as_dict().items():
        assert track not in items.tolist() and len(items) == 5
        assert {_genre(t) for t in items.tolist()} == {_genre(track)}, track


def test_the_embeddings_are_the_representations_row_by_track_id(fitted):
    embeddings = fitted.embeddings()
    ids = fitted.tracks.ids
    assert embeddings.vectors.dtype == np.float32
    assert embeddings.vectors.shape == (ids.max() + 1, fitted.track_factors.shape[1])
    np.testing.assert_array_equal(embeddings.vectors[ids], fitted.track_factors)
    unused = np.setdiff1d(np.arange(ids.max() + 1), ids)
    assert not embeddings.vectors[unused].any()  # ids of no track: zero rows


def test_without_the_catalog_it_is_plain_mf_on_the_logged_tracks(planted):
    sessions, genre_of = planted
    mf = HybridMF(k=5, **FAST).fit(sessions)
    logged = set(sessions["track"].tolist())
    assert set(mf.tracks.ids.tolist()) == logged
    hits = [
        np.mean([_genre(t) == genre_of[user] for t in items.tolist()])
        for user, items in mf.user_lists().as_dict().items()
    ]
    assert np.mean(hits) > 0.9


def _fit(sessions, seed=0, catalog=None, **extra):
    settings = TrainSettings(models=["hybrid_mf"], seed=seed, progress=False, user_k=5,
                             track_k=5, hybrid_mf={**FAST, **extra})
    _, artifacts = fit_model(MODELS.get("hybrid_mf"), settings, TrainData(sessions, catalog))
    return {name: artifact.vectors.tolist() if artifact.kind == EMBEDDINGS
            else list(artifact.records()) for name, artifact in artifacts.items()}


def test_deterministic_for_a_seed_and_the_seed_matters(planted):
    sessions, _ = planted
    first = _fit(sessions, catalog=_catalog(), epochs=3)
    assert first == _fit(sessions, catalog=_catalog(), epochs=3)
    assert first != _fit(sessions, seed=1, catalog=_catalog(), epochs=3)


def test_save_and_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "mf.npz")
    loaded = HybridMF.load(tmp_path / "mf.npz")
    for lists in ("user_lists", "track_lists"):
        assert list(getattr(loaded, lists)().records()) == list(getattr(fitted, lists)().records())


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], r"cannot train hybrid_mf: no listen above 0\.8"),
        ([(1, 10, 0.5), (2, 11, 0.3)], r"cannot train hybrid_mf: no listen above 0\.8"),
        ([(1, 10, 0.9), (2, 10, 1.0)], "cannot train hybrid_mf: the logs hold a single track"),
    ],
    ids=["no events", "no positive", "one track"],
)
def test_degenerate_logs_are_refused_in_one_line(rows, message):
    with pytest.raises(DataError, match=message):
        _fit(_log(rows))


def test_a_bad_setting_is_refused_in_one_line(planted):
    with pytest.raises(ConfigError, match="settings of hybrid_mf: loss must be one of"):
        _fit(planted[0], loss="hinge")
