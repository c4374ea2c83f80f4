"""Genre appeal and the item-to-item lists built on it (botify/training/appeal.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.training.appeal import appeal_lists, genre_appeal
from botify.training.catalog import TrackCatalog

# Two genres of four artists with three tracks each; ids with gaps.
RECORDS = [
    {"track": 10 + 5 * i, "artist": f"A{i // 3}", "title": "t", "genre": f"G{i // 12}"}
    for i in range(24)
]
CATALOG = TrackCatalog.from_records(RECORDS)
IDS = [r["track"] for r in RECORDS]
ARTIST = {r["track"]: r["artist"] for r in RECORDS}
GENRE = {r["track"]: r["genre"] for r in RECORDS}


def pairs_of(sessions: list[list[tuple[int, float]]]) -> pd.DataFrame:
    """Transitions of sessions given as [(track, time), ...] (the first track is the start)."""
    rows = []
    for s, session in enumerate(sessions):
        for (prev, _), (nxt, time) in zip(session, session[1:], strict=False):
            rows.append({"prev": prev, "next": nxt, "time": time, "session": s})
    return pd.DataFrame(rows)


def sessions_of(sessions: list[list[tuple[int, float]]]) -> pd.DataFrame:
    """Sessionized events (``dataset.session_events``) of sessions given as [(track, time), ...]."""
    rows = [
        {"user": s, "track": track, "time": time, "timestamp": 1000 * s + i, "session": s}
        for s, session in enumerate(sessions)
        for i, (track, time) in enumerate(session)
    ]
    return pd.DataFrame(rows)


def position(track: int) -> int:
    return int(CATALOG.tracks.lookup(np.array([track]))[0])


def test_the_session_s_level_is_taken_out():
    # 25 plays at 0.9 in generous sessions, where everything else is heard 0.9 too; 40 at 0.5
    # in stingy ones, where everything else is heard 0.1: the second is the better track.
    generous = [[(10, 1.0), (25, 0.9), (40, 0.9), (55, 0.9)] for _ in range(25)]
    stingy = [[(10, 1.0), (30, 0.5), (40, 0.1), (55, 0.1)] for _ in range(40)]
    appeal = genre_appeal(pairs_of(generous + stingy), CATALOG)
    assert appeal[position(30)] > appeal[position(25)]
    raw = pairs_of(generous + stingy).groupby("next")["time"].mean()
    assert raw[25] > raw[30]  # what a plain mean would say
    # a never-played track of the genre has the genre's mean; the other genre's tracks, 0
    assert appeal[position(60)] == pytest.approx(pairs_of(generous + stingy)["time"].mean())
    assert appeal[position(70)] == 0.0


def test_converges_to_the_ridge_solution():
    # Alternating shrunk means are block coordinate descent on the ridge problem
    #   min sum (r - level[s] - appeal[t])^2 + session_prior |level|^2 + track_prior |appeal|^2,
    # r being the time less the genre's mean: solved here directly by least squares.
    rng = np.random.default_rng(4)
    genre0 = IDS[:12]
    sessions = []
    for _ in range(30):
        tracks = rng.choice(genre0, size=5, replace=False)
        sessions.append([(int(t), float(rng.uniform())) for t in tracks])
    pairs = pairs_of(sessions)
    pairs = pairs[pairs["prev"].map(ARTIST) != pairs["next"].map(ARTIST)]
    appeal = genre_appeal(pairs, CATALOG, track_prior=3.0, session_prior=2.0, rounds=500)

    residual = pairs["time"].to_numpy() - pairs["time"].mean()
    s_index = pd.factorize(pairs["session"])[0]
    t_index = np.array([genre0.index(t) for t in pairs["next"]])
    n_s, n_t = s_index.max() + 1, len(genre0)
    design = np.zeros((len(pairs), n_s + n_t))
    design[np.arange(len(pairs)), s_index] = 1.0
    design[np.arange(len(pairs)), n_s + t_index] = 1.0
    penalty = np.diag(np.r_[np.full(n_s, np.sqrt(2.0)), np.full(n_t, np.sqrt(3.0))])
    solution, *_ = np.linalg.lstsq(
        np.vstack([design, penalty]), np.r_[residual, np.zeros(n_s + n_t)], rcond=None
    )
    expected = pairs["time"].mean() + solution[n_s:]
    np.testing.assert_allclose(appeal[[position(t) for t in genre0]], expected, atol=1e-8)


def test_lists_cover_the_catalog_one_per_other_artist_of_the_genre():
    lists = appeal_lists(sessions_of([[(10, 1.0), (40, 0.9)]]), CATALOG, k=100).as_dict()
    assert sorted(lists) == IDS
    for key, items in lists.items():
        items = items.tolist()
        assert len(items) == 3  # the genre's other three artists, one track each
        assert all(GENRE[t] == GENRE[key] and ARTIST[t] != ARTIST[key] for t in items)
        assert len({ARTIST[t] for t in items}) == 3


# Genre 0 (tracks 10..65, artists A0..A3 of three tracks each): sessions of artist A1 hear 55
# (A3) far longer than 40 (A2), so 55 has the higher appeal.
BASE = [[(25, 1.0), (55, 0.9), (40, 0.5)] for _ in range(60)]


def test_lists_follow_the_appeal_and_what_the_artist_s_listeners_enjoyed():
    lists = appeal_lists(sessions_of(BASE), CATALOG).as_dict()
    assert lists[15][0] == 55 and lists[30][0] == 55
    # Sessions that heard A0's track 10 through go on to enjoy 40 and skip 55: for every track of
    # A0 (15 too, never heard itself) 40 comes first; for the other artists 55 still does.
    a0 = [[(10, 1.0), (40, 0.95), (55, 0.3)] for _ in range(30)]
    lists = appeal_lists(sessions_of(BASE + a0), CATALOG).as_dict()
    assert lists[10][0] == 40 and lists[15][0] == 40 and lists[20][0] == 40
    assert lists[30][0] == 55 and lists[45][0] == 55


@pytest.mark.parametrize(
    ("session", "first"),
    [
        ([(10, 1.0), (40, 1.0), (65, 0.2)], 40),  # 10 heard through, then 40: an anchor
        ([(10, 0.5), (40, 1.0), (65, 0.2)], 55),  # 10 not heard through: no anchor
        ([(40, 1.0), (65, 0.2), (10, 1.0)], 55),  # 40 came before the anchor
    ],
)
def test_only_later_tracks_after_a_listen_heard_through_count(session, first):
    lists = appeal_lists(sessions_of(BASE + [session] * 30), CATALOG).as_dict()
    assert lists[15][0] == first


def test_deterministic_by_seed():
    sessions = sessions_of([[(10, 1.0), (40, 0.9)]])
    a = appeal_lists(sessions, CATALOG, seed=3)
    b = appeal_lists(sessions, CATALOG, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a.items, b.items, strict=True))
    orders = {
        tuple(appeal_lists(sessions, CATALOG, seed=s).as_dict()[100].tolist()) for s in range(8)
    }
    assert len(orders) > 1  # ties (tracks never heard) in a seeded random order
