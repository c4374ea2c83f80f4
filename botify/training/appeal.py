"""Item-to-item lists from what the listeners of an artist go on to enjoy in its genre.

A session's taste lies in one genre, closer to some of its artists than to others, and some
tracks please nearly everyone who likes the genre while others please only a few. The logs say
both. Every listen heard past the positive threshold (the session's first track, which the logs
record with time 1, among them) is an *anchor*, and every later track of the session in the
anchor's genre by another artist is an *observation* ``(artist, track, session, time)``: how long
a listener of the anchor's artist heard that track. A listen after several anchors of different
artists is observed once per artist.

The model is additive, fitted by alternating shrunk means (all effects start at 0)::

    time = genre mean + session level + track appeal + affinity(artist, track) + noise

- the *session level* takes out that one listener hears everything for longer than another, so a
  track is not credited with having been played to a generous one;
- the *appeal* is how well the genre's listeners at large hear the track; it is shrunk strongly
  (``track_prior``), so a track heard well once or twice by chance does not head its genre;
- the *affinity* is what the listeners of one artist think of the track beyond its appeal, shrunk
  lightly (``pair_prior``): keyed by artist, it pools the sessions of all the artist's tracks.

A listen observed from ``n`` anchor artists weighs ``1 / n`` in the level and the appeal (it is one
listen) and fully in each affinity. Fitting appeal and affinity together matters once the lists
are served: a track that a list serves mostly to the artists whose listeners like it would
otherwise be credited with a high appeal and head every list of its genre.

:func:`appeal_lists` turns it into lists for every catalog track (the ``i2i_cooc`` artifact when
training has the catalog): other artists' tracks of the key's genre, one per artist and none of
the key's own artist (a listener tires of an artist, and the key's is the one just heard), ranked
by appeal plus the key's artist's affinity. The tracks of one artist and genre share a list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from botify.events import TIME, TRACK
from botify.store.artifacts import PER_TRACK
from botify.training.artifacts import RecommendationLists
from botify.training.catalog import TrackCatalog
from botify.training.dataset import POSITIVE_THRESHOLD, SESSION

ARTIST, POSITION, WEIGHT = "artist", "position", "weight"


def anchor_observations(
    sessions: pd.DataFrame, catalog: TrackCatalog, threshold: float = POSITIVE_THRESHOLD
) -> pd.DataFrame:
    """The observations of the model (see the module docstring).

    ``sessions`` must hold each session's events together and in order, as ``session_events``
    gives them.

    Args:
        sessions: sessionized events (``dataset.session_events``).
        catalog: the tracks with their artists and genres.
        threshold: a listen longer than this is an anchor.

    Returns:
        Columns ``artist`` (the anchor's artist code), ``position`` (the observed track's
        catalog position), ``session``, ``time`` and ``weight`` (1 / the number of anchor artists
        that observe the listen), one row per (artist, track, session).
    """
    pos, artist, genre = catalog.codes(sessions[TRACK].to_numpy(dtype=np.int64))
    time = sessions[TIME].to_numpy(dtype=np.float64)
    session = sessions[SESSION].to_numpy()
    # Each event's session ends at the first later event of another session.
    change = np.flatnonzero(np.r_[session[1:] != session[:-1], True])
    end = np.repeat(change + 1, np.diff(np.r_[-1, change]))
    anchors = np.flatnonzero((time > threshold) & (pos >= 0))
    after = end[anchors] - anchors - 1
    anchor = np.repeat(anchors, after)
    later = anchor + 1 + np.arange(int(after.sum())) - np.repeat(np.cumsum(after) - after, after)
    fits = ((pos[later] >= 0) & (genre[later] == genre[anchor])
            & (artist[later] != artist[anchor]))
    anchor, later = anchor[fits], later[fits]
    frame = pd.DataFrame({
        ARTIST: artist[anchor], POSITION: pos[later], SESSION: session[later],
        TIME: time[later], "listen": later,
    }).drop_duplicates([ARTIST, POSITION, SESSION])
    frame[WEIGHT] = 1.0 / frame.groupby("listen")["listen"].transform("count")
    return frame.drop(columns="listen").reset_index(drop=True)


@dataclass(frozen=True)
class Appeal:
    """The fitted model.

    Attributes:
        appeal: per catalog track, the genre mean plus the track's appeal (expected time for a
            listener of the genre at the average level; a genre never observed has 0).
        artists: the artist code of each fitted affinity.
        positions: the track position of each.
        affinity: the affinities.
    """

    appeal: np.ndarray
    artists: np.ndarray
    positions: np.ndarray
    affinity: np.ndarray


def fit_appeal(
    observations: pd.DataFrame,
    catalog: TrackCatalog,
    track_prior: float = 30.0,
    pair_prior: float = 1.0,
    session_prior: float = 1.0,
    rounds: int = 30,
) -> Appeal:
    """Fit the model on :func:`anchor_observations` (see the module docstring).

    Each effect is shrunk toward 0 as if it had that many more observations at 0 (the session's
    and the appeal's by weight, the affinity's by count).
    """
    n = len(catalog.tracks)
    pos = observations[POSITION].to_numpy(dtype=np.int64)
    time = observations[TIME].to_numpy(dtype=np.float64)
    weight = observations[WEIGHT].to_numpy(dtype=np.float64)
    genre = catalog.genre[pos]
    genre_weight = np.bincount(genre, weights=weight, minlength=catalog.n_genres)
    genre_mean = np.divide(
        np.bincount(genre, weights=weight * time, minlength=catalog.n_genres), genre_weight,
        out=np.zeros(catalog.n_genres), where=genre_weight > 0,
    )
    residual = time - genre_mean[genre]
    _, session = np.unique(observations[SESSION].to_numpy(), return_inverse=True)
    cells, cell = np.unique(observations[ARTIST].to_numpy(dtype=np.int64) * n + pos,
                            return_inverse=True)
    session_weight = np.bincount(session, weights=weight) + session_prior
    track_weight = np.bincount(pos, weights=weight, minlength=n) + track_prior
    cell_count = np.bincount(cell, minlength=len(cells)) + pair_prior
    level, appeal, affinity = np.zeros(len(session_weight)), np.zeros(n), np.zeros(len(cells))
    for _ in range(rounds):
        level = np.bincount(session, weights=weight * (residual - appeal[pos] - affinity[cell]),
                            minlength=len(level)) / session_weight
        appeal = np.bincount(pos, weights=weight * (residual - level[session] - affinity[cell]),
                             minlength=n) / track_weight
        affinity = np.bincount(cell, weights=residual - level[session] - appeal[pos],
                               minlength=len(cells)) / cell_count
    return Appeal(genre_mean[catalog.genre] + appeal, cells // n, cells % n, affinity)


def appeal_lists(
    sessions: pd.DataFrame,
    catalog: TrackCatalog,
    k: int = 100,
    threshold: float = POSITIVE_THRESHOLD,
    seed: int = 0,
) -> RecommendationLists:
    """Lists for every catalog track: other artists' tracks of its genre, best expected first.

    Args:
        sessions: sessionized events (``dataset.session_events``).
        catalog: the tracks with their artists and genres.
        k: the length of every list (shorter when the genre has fewer other artists).
        threshold: a listen longer than this is an anchor.
        seed: seeds the order among tracks of equal appeal (those never heard, say).

    Returns:
        Per-track lists keyed by every catalog track; the tracks of one artist and genre share a
        list (see the module docstring).
    """
    model = fit_appeal(anchor_observations(sessions, catalog, threshold), catalog)
    appeal = model.appeal
    ids = catalog.tracks.ids
    # Ties (equal appeal) in a seeded random order; then the best track of each artist.
    tiebreak = np.random.default_rng(seed).permutation(len(ids))
    best = _one_per_artist(np.lexsort((tiebreak, -appeal)), catalog)
    by_genre = [best[catalog.genre[best] == g] for g in range(catalog.n_genres)]
    keys, starts = np.unique(model.artists, return_index=True)
    ends = np.append(starts[1:], len(model.artists))[: len(keys)]
    observed = {int(a): (i, j) for a, i, j in zip(keys.tolist(), starts.tolist(), ends.tolist(),
                                                  strict=True)}
    # One list per artist and genre (an artist's tracks may span genres): pair code a * G + g.
    pair = catalog.artist * catalog.n_genres + catalog.genre
    lists = {}
    for code in np.unique(pair).tolist():
        artist, genre = divmod(code, catalog.n_genres)
        pool = by_genre[genre]
        pool = pool[catalog.artist[pool] != artist][: 2 * k]
        if artist in observed:
            i, j = observed[artist]
            tracks, affinity = model.positions[i:j], model.affinity[i:j]
            mine = catalog.genre[tracks] == genre
            tracks, affinity = tracks[mine], affinity[mine]
            pool = pool[~np.isin(pool, tracks)]  # an observed track is ranked by its affinity too
            candidates = np.concatenate([pool, tracks])
            scores = np.concatenate([appeal[pool], appeal[tracks] + affinity])
            pool = _one_per_artist(candidates[np.argsort(-scores, kind="stable")], catalog)
        lists[code] = ids[pool[:k]]
    items = [lists[code] for code in pair.tolist()]
    return RecommendationLists(kind=PER_TRACK, keys=ids.copy(), items=items)


def _one_per_artist(ranked: np.ndarray, catalog: TrackCatalog) -> np.ndarray:
    """The first of each artist's tracks in ``ranked`` (positions), in ``ranked``'s order."""
    _, first = np.unique(catalog.artist[ranked], return_index=True)
    return ranked[np.sort(first)]
