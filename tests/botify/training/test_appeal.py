"""Genre appeal and the item-to-item lists built on it (botify/training/appeal.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.training.appeal import anchor_observations, appeal_lists, fit_appeal
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


def test_observations_are_the_later_in_genre_tracks_of_other_artists_after_each_anchor():
    # 10 (A0) heard through, 25 (A1) heard through, 60 (A3), 70 (genre 1), 15 (A0) skipped
    frame = anchor_observations(sessions_of([[(10, 1.0), (25, 0.9), (60, 0.5), (70, 1.0),
                                              (15, 0.1)]]), CATALOG)
    seen = {(artist, IDS[p]): w for artist, p, w in
            zip(frame["artist"], frame["position"], frame["weight"], strict=True)}
    a0, a1 = (int(CATALOG.artist[position(t)]) for t in (10, 25))
    # 60 follows two anchors of two artists: one listen, half a weight in each; 15 is A0's own,
    # 70 another genre, and nothing counts after 70 for genre 1 (70 is the last of its genre)
    assert seen == {(a0, 25): 1.0, (a0, 60): 0.5, (a1, 60): 0.5, (a1, 15): 1.0}


def test_observations_stay_in_their_session_and_ignore_unknown_tracks():
    # 999 is not in the catalog: neither an anchor nor an observation; the second session's 40
    # is no observation of the first session's anchors
    frame = anchor_observations(
        sessions_of([[(10, 1.0), (999, 1.0), (25, 0.5)], [(40, 0.5), (55, 0.3)]]), CATALOG
    )
    assert [(IDS[p], s) for p, s in zip(frame["position"], frame["session"], strict=True)] == [
        (25, 0)
    ]


def test_the_session_s_level_is_taken_out():
    # 25 heard 0.9 in generous sessions, where everything else is heard 0.9 too; 30 heard 0.5 in
    # stingy ones, where everything else is heard 0.1: the second is the better track.
    generous = [[(10, 1.0), (25, 0.7), (40, 0.7), (55, 0.7)] for _ in range(25)]
    stingy = [[(10, 1.0), (30, 0.5), (40, 0.1), (55, 0.1)] for _ in range(40)]
    frame = anchor_observations(sessions_of(generous + stingy), CATALOG)
    model = fit_appeal(frame, CATALOG)
    assert model.appeal[position(30)] > model.appeal[position(25)]
    raw = frame.groupby("position")["time"].mean()
    assert raw[position(25)] > raw[position(30)]  # what a plain mean would say
    # a never-played track of the genre has the genre's mean; the other genre's tracks, 0
    assert model.appeal[position(60)] == pytest.approx(frame["time"].mean())
    assert model.appeal[position(70)] == 0.0


def test_converges_to_the_ridge_solution():
    # Alternating shrunk means are block coordinate descent on the ridge problem
    #   min sum (r - level[s] - appeal[t] - affinity[a, t])^2
    #       + session_prior |level|^2 + track_prior |appeal|^2 + pair_prior |affinity|^2,
    # r being the time less the genre's mean, when every listen has one anchor (weight 1):
    # solved here directly by least squares.
    rng = np.random.default_rng(4)
    genre0 = IDS[:12]
    sessions = []
    for _ in range(40):
        first, *rest = rng.choice(genre0, size=5, replace=False)
        sessions.append([(int(first), 1.0)] + [(int(t), float(rng.uniform(0, 0.8))) for t in rest])
    frame = anchor_observations(sessions_of(sessions), CATALOG)
    assert (frame["weight"] == 1.0).all()
    model = fit_appeal(frame, CATALOG, track_prior=3.0, pair_prior=2.0, session_prior=1.5,
                       rounds=2000)

    residual = frame["time"].to_numpy() - frame["time"].mean()
    blocks = [pd.factorize(frame["session"])[0], frame["position"].to_numpy(),
              pd.factorize(frame["artist"].to_numpy() * 1000 + frame["position"].to_numpy())[0]]
    sizes = [int(b.max()) + 1 for b in blocks]
    design = np.zeros((len(frame), sum(sizes)))
    offset = 0
    for block, size in zip(blocks, sizes, strict=True):
        design[np.arange(len(frame)), offset + block] = 1.0
        offset += size
    penalty = np.diag(np.concatenate([np.full(size, np.sqrt(prior)) for size, prior
                                      in zip(sizes, (1.5, 3.0, 2.0), strict=True)]))
    solution, *_ = np.linalg.lstsq(
        np.vstack([design, penalty]), np.r_[residual, np.zeros(sum(sizes))], rcond=None
    )
    appeal = solution[sizes[0] : sizes[0] + sizes[1]]
    np.testing.assert_allclose(model.appeal[[position(t) for t in genre0]],
                               frame["time"].mean() + appeal[[position(t) for t in genre0]],
                               atol=1e-6)
    cells = {(a, p): v for a, p, v in zip(model.artists, model.positions, model.affinity,
                                          strict=True)}
    expected = solution[sizes[0] + sizes[1]:]
    for (a, p), c in zip(zip(frame["artist"], frame["position"], strict=True), blocks[2],
                         strict=True):
        assert cells[(a, p)] == pytest.approx(expected[c], abs=1e-6)


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
    # A0 (15 too, never heard itself) 40 comes first; for A1's, 55 still does.
    a0 = [[(10, 1.0), (40, 0.95), (55, 0.3)] for _ in range(30)]
    lists = appeal_lists(sessions_of(BASE + a0), CATALOG).as_dict()
    assert lists[10][0] == 40 and lists[15][0] == 40 and lists[20][0] == 40
    assert lists[25][0] == 55 and lists[30][0] == 55  # what A1's listeners enjoy


def test_a_track_the_artist_s_listeners_skip_moves_down_its_list():
    # One genre: artist A (track 1), artist T (tracks 2, 3) and forty one-track artists whose
    # listeners all hear 2 well, so 2 has the highest appeal and heads every list
    records = [{"track": 1, "artist": "A", "genre": "G"}, {"track": 2, "artist": "T", "genre": "G"},
               {"track": 3, "artist": "T", "genre": "G"}]
    records += [{"track": 100 + i, "artist": f"B{i}", "genre": "G"} for i in range(40)]
    catalog = TrackCatalog.from_records(records)
    base = [[(100 + i, 1.0), (2, 0.9), (100 + (i + 1) % 40, 0.3)] for i in range(40)] * 3
    assert appeal_lists(sessions_of(base), catalog).as_dict()[1][0] == 2
    # A's listeners skip 2: it leaves the head of A's list (and only A's)
    of_a = [[(1, 1.0), (2, 0.0), (105, 0.6)] for _ in range(10)]
    lists = appeal_lists(sessions_of(base + of_a), catalog).as_dict()
    assert lists[1][0] != 2 and lists[1].tolist().index(2) > 10
    assert lists[100][0] == 2  # the others' listeners still hear it


def test_logs_without_an_anchor_give_lists_by_appeal():
    lists = appeal_lists(sessions_of([[(10, 0.5), (40, 0.5)], [(70, 0.2)]]), CATALOG).as_dict()
    assert sorted(lists) == IDS and all(len(items) == 3 for items in lists.values())


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


def test_an_artist_of_two_genres_has_a_list_in_each():
    # Artist X has track 1 in genre P and track 2 in genre Q; three other artists in each genre.
    records = [{"track": 1, "artist": "X", "genre": "P"}, {"track": 2, "artist": "X", "genre": "Q"}]
    records += [{"track": 10 + i, "artist": f"P{i}", "genre": "P"} for i in range(3)]
    records += [{"track": 20 + i, "artist": f"Q{i}", "genre": "Q"} for i in range(3)]
    catalog = TrackCatalog.from_records(records)
    # X's listeners in genre Q enjoy 22, which the genre at large hears less than 20
    base = [[(21, 1.0), (20, 0.9), (22, 0.4)] for _ in range(40)]
    of_x = [[(2, 1.0), (22, 1.0), (20, 0.2)] for _ in range(30)]
    lists = appeal_lists(sessions_of(base + of_x), catalog).as_dict()
    assert set(lists[1].tolist()) == {10, 11, 12}
    assert set(lists[2].tolist()) == {20, 21, 22}
    assert lists[2][0] == 22
    assert lists[21][0] == 20  # Q1's listeners are not X's
