"""Genre appeal: how well a track is listened to by the listeners of its genre.

Within a genre, some tracks please nearly everyone who likes the genre and others only a few. A
track's appeal is estimated from the transitions that stay in the genre and change artist (what
``sticky_genre`` serves on a cold start, and what any in-genre recommendation adds later): the
time listened to the track, less what the same session listened to on average, averaged over its
plays and shrunk toward 0 for tracks heard only a few times. Taking out the session's level
matters: one listener hears everything for longer than another, and a track should not be
credited with having been played to a generous one.

The model is additive, ``time = session level + track appeal + noise``, fitted by a few rounds of
alternating shrunk means (both effects start at 0).

:func:`appeal_lists` turns it into item-to-item lists for every catalog track (the ``i2i_cooc``
artifact when training has the catalog): other artists' tracks of the key's genre, one per artist,
ranked by the expected time listened after the key, which is the mean time observed after the key
shrunk toward the track's appeal as if the appeal had been observed ``pair_prior`` times. A
cold-start day observes a pair once or twice at best, so the lists follow the appeal until pairs
are seen often. One track per artist and none of the key's own: a listener tires of an artist
(each further track of one artist in a session is discounted), and the key's artist is the one
just heard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify.events import TIME
from botify.store.artifacts import PER_TRACK
from botify.training.artifacts import RecommendationLists
from botify.training.catalog import TrackCatalog
from botify.training.dataset import NEXT, PREV, SESSION


def genre_appeal(
    pairs: pd.DataFrame,
    catalog: TrackCatalog,
    track_prior: float = 5.0,
    session_prior: float = 1.0,
    rounds: int = 3,
) -> np.ndarray:
    """Each catalog track's appeal to its genre's listeners, in listened time.

    Args:
        pairs: transitions (``dataset.transitions``: ``prev, next, time, session``).
        catalog: the tracks with their artists and genres.
        track_prior: a track's appeal is shrunk toward the genre's mean as if it had this many
            more plays at that mean.
        session_prior: the same for a session's level.
        rounds: rounds of the alternating fit.

    Returns:
        ``(len(catalog.tracks),)`` float64 in catalog order: the expected listened time of each
        track for a session of its genre at the average level. Tracks never played within their
        genre get their genre's mean; genres never played, 0.
    """
    n = len(catalog.tracks)
    prev_pos, prev_artist, prev_genre = catalog.codes(pairs[PREV].to_numpy(dtype=np.int64))
    pos, artist, genre = catalog.codes(pairs[NEXT].to_numpy(dtype=np.int64))
    kept = (prev_pos >= 0) & (pos >= 0) & (genre == prev_genre) & (artist != prev_artist)
    if not kept.any():
        return np.zeros(n)
    pos, genre = pos[kept], genre[kept]
    time = pairs[TIME].to_numpy(dtype=np.float64)[kept]
    _, session = np.unique(pairs[SESSION].to_numpy()[kept], return_inverse=True)

    genre_sum = np.bincount(genre, weights=time, minlength=catalog.n_genres)
    genre_plays = np.bincount(genre, minlength=catalog.n_genres)
    genre_mean = np.divide(
        genre_sum, genre_plays, out=np.zeros(catalog.n_genres), where=genre_plays > 0
    )
    residual = time - genre_mean[genre]
    plays = np.bincount(pos, minlength=n)
    session_plays = np.bincount(session)
    appeal = np.zeros(n)
    for _ in range(rounds):
        level = np.bincount(session, weights=residual - appeal[pos]) / (
            session_plays + session_prior
        )
        appeal = np.bincount(pos, weights=residual - level[session], minlength=n) / (
            plays + track_prior
        )
    return genre_mean[catalog.genre] + appeal


def appeal_lists(
    pairs: pd.DataFrame,
    catalog: TrackCatalog,
    k: int = 100,
    pair_prior: float = 20.0,
    seed: int = 0,
) -> RecommendationLists:
    """Lists for every catalog track: other artists' tracks of its genre, best expected first.

    Args:
        pairs: transitions (``dataset.transitions``).
        catalog: the tracks with their artists and genres.
        k: the length of every list (shorter when the genre has fewer other artists).
        pair_prior: how many observations of a pair weigh as much as the track's appeal.
        seed: seeds the order among tracks of equal appeal (those never heard, say).

    Returns:
        Per-track lists keyed by every catalog track (see the module docstring).
    """
    appeal = genre_appeal(pairs, catalog)
    ids = catalog.tracks.ids
    # Ties (equal appeal) in a seeded random order; then the best track of each artist.
    tiebreak = np.random.default_rng(seed).permutation(len(ids))
    best = _one_per_artist(np.lexsort((tiebreak, -appeal)), catalog)
    by_genre = [best[catalog.genre[best] == g] for g in range(catalog.n_genres)]

    # Per key: the observed next tracks, their plays and total time (skips count as plays).
    prev, _, _ = catalog.codes(pairs[PREV].to_numpy(dtype=np.int64))
    nxt, _, _ = catalog.codes(pairs[NEXT].to_numpy(dtype=np.int64))
    kept = (prev >= 0) & (nxt >= 0)
    code = prev[kept] * len(ids) + nxt[kept]
    pair, where, plays = np.unique(code, return_inverse=True, return_counts=True)
    totals = np.bincount(where, weights=pairs[TIME].to_numpy(dtype=np.float64)[kept])
    keys_of, starts = np.unique(pair // len(ids), return_index=True)
    ends = np.append(starts[1:], len(pair))
    seen = {
        int(k): (pair[a:b] % len(ids), totals[a:b], plays[a:b])
        for k, a, b in zip(keys_of.tolist(), starts.tolist(), ends.tolist(), strict=True)
    }
    items = []
    for key in range(len(ids)):
        pool = by_genre[catalog.genre[key]]
        pool = pool[catalog.artist[pool] != catalog.artist[key]]
        if key in seen:
            after, sums, counts = seen[key]
            fits = (catalog.genre[after] == catalog.genre[key]) & (
                catalog.artist[after] != catalog.artist[key]
            )
            after, sums, counts = after[fits], sums[fits], counts[fits]
            expected = (sums + pair_prior * appeal[after]) / (counts + pair_prior)
            candidates = np.concatenate([pool, after])
            scores = np.concatenate([appeal[pool], expected])
            pool = _one_per_artist(candidates[np.argsort(-scores, kind="stable")], catalog)
        items.append(ids[pool[:k]])
    return RecommendationLists(kind=PER_TRACK, keys=ids.copy(), items=items)


def _one_per_artist(ranked: np.ndarray, catalog: TrackCatalog) -> np.ndarray:
    """The first of each artist's tracks in ``ranked`` (positions), in ``ranked``'s order."""
    _, first = np.unique(catalog.artist[ranked], return_index=True)
    return ranked[np.sort(first)]
