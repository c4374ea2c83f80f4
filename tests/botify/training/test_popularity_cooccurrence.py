"""Popularity and co-occurrence against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify.training.cooccurrence import Cooccurrence
from botify.training.dataset import transitions
from botify.training.popularity import TopTracks


def test_top_tracks_sum_listened_time(sessions):
    ranking = TopTracks().fit(sessions).ranking
    totals = {}
    for track, time in zip(sessions["track"], sessions["time"], strict=True):
        totals[track] = totals.get(track, 0.0) + time
    assert len(ranking.tracks) == len(totals)
    assert np.allclose(ranking.scores, [totals[t] for t in ranking.tracks])
    assert np.all(np.diff(ranking.scores) <= 0)


def test_cooccurrence_by_hand():
    pairs = pd.DataFrame(
        {
            "prev": [1, 1, 1, 1, 1, 2, 2],
            "next": [2, 3, 3, 4, 1, 1, 5],
            "time": [0.9, 0.5, 0.6, 0.0, 1.0, 0.3, 0.3],
        }
    )
    lists = Cooccurrence(k=2).fit(pairs).recommendations().as_dict()
    # track 1: 3 has 1.1, 2 has 0.9, 4 has 0 (never kept), itself excluded; cut at k=2
    assert lists[1].tolist() == [3, 2]
    # ties broken by ascending id
    assert lists[2].tolist() == [1, 5]


def test_cooccurrence_finds_the_planted_successors(world, sessions):
    lists = Cooccurrence(k=3).fit(transitions(sessions)).recommendations().as_dict()
    overlap = [len(set(lists[t][:3]) & set(world.successors[t])) / 3 for t in lists]
    assert np.mean(overlap) > 0.8
