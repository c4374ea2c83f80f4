"""Genre appeal, and item-to-item lists of what the listeners of an artist go on to enjoy.

Within a genre, some tracks please nearly everyone who likes the genre and others only a few. A
track's appeal is estimated from the transitions that stay in the genre and change artist (what
``sticky_genre`` serves on a cold start, and what any in-genre recommendation adds later): the
time listened to the track, less what the same session listened to on average, averaged over its
plays and shrunk toward 0 for tracks heard only a few times. Taking out the session's level
matters: one listener hears everything for longer than another, and a track should not be
credited with having been played to a generous one. The shrinkage is strong (``track_prior``
30): a track heard well once or twice by chance should not head the lists of its genre.

The model is additive, ``time = session level + track appeal + noise``, fitted by a few rounds of
alternating shrunk means (both effects start at 0).

:func:`appeal_lists` turns it into item-to-item lists for every catalog track (the ``i2i_cooc``
artifact when training has the catalog): other artists' tracks of the key's genre, one per artist,
ranked by the expected time listened in a session that heard the key's *artist* through. A
session's taste is closer to some artists of its genre than to others, and the logs say which:
every listen heard past the positive threshold (the session's first track among them) is an
anchor, and every later track of the anchor's genre by another artist is an observation of what a
listener of the anchor's artist thinks of that track. The expected time is the track's appeal
plus the mean of those observations' residuals (time less appeal, less the session's level),
shrunk toward 0 as if ``anchor_prior`` more observations had residual 0. Keying by artist rather
than by track pools the sessions of all the artist's tracks, so a popular artist's list rests on
many sessions. One track per artist and none of the key's own: a listener tires of an artist
(each further track of one artist in a session is discounted), and the key's artist is the one
just heard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify.events import TIME, TRACK
from botify.store.artifacts import PER_TRACK
from botify.training.artifacts import RecommendationLists
from botify.training.catalog import TrackCatalog
from botify.training.dataset import NEXT, POSITIVE_THRESHOLD, PREV, SESSION, transitions


def genre_appeal(
    pairs: pd.DataFrame,
    catalog: TrackCatalog,
    track_prior: float = 30.0,
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
    sessions: pd.DataFrame,
    catalog: TrackCatalog,
    k: int = 100,
    anchor_prior: float = 1.0,
    threshold: float = POSITIVE_THRESHOLD,
    seed: int = 0,
) -> RecommendationLists:
    """Lists for every catalog track: other artists' tracks of its genre, best expected first.

    Args:
        sessions: sessionized events (``dataset.session_events``).
        catalog: the tracks with their artists and genres.
        k: the length of every list (shorter when the genre has fewer other artists).
        anchor_prior: how many residuals of 0 an artist's observations of a track are shrunk
            with.
        threshold: a listen longer than this is an anchor.
        seed: seeds the order among tracks of equal appeal (those never heard, say).

    Returns:
        Per-track lists keyed by every catalog track; the tracks of one artist share a list (see
        the module docstring).
    """
    appeal = genre_appeal(transitions(sessions), catalog)
    ids = catalog.tracks.ids
    # Ties (equal appeal) in a seeded random order; then the best track of each artist.
    tiebreak = np.random.default_rng(seed).permutation(len(ids))
    best = _one_per_artist(np.lexsort((tiebreak, -appeal)), catalog)
    by_genre = [best[catalog.genre[best] == g] for g in range(catalog.n_genres)]
    observed = _anchor_observations(sessions, catalog, appeal, anchor_prior, threshold)
    lists = {}
    for artist in np.unique(catalog.artist).tolist():
        genre = catalog.genre[np.flatnonzero(catalog.artist == artist)[0]]
        pool = by_genre[genre]
        pool = pool[catalog.artist[pool] != artist][: 2 * k]
        if artist in observed:
            tracks, expected = observed[artist]
            candidates = np.concatenate([pool, tracks])
            scores = np.concatenate([appeal[pool], expected])
            pool = _one_per_artist(candidates[np.argsort(-scores, kind="stable")], catalog)
        lists[artist] = ids[pool[:k]]
    items = [lists[artist] for artist in catalog.artist.tolist()]
    return RecommendationLists(kind=PER_TRACK, keys=ids.copy(), items=items)


def _anchor_observations(
    sessions: pd.DataFrame, catalog: TrackCatalog, appeal: np.ndarray, prior: float,
    threshold: float,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Anchor artist -> (track positions observed after its anchors, their expected times)."""
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
        "artist": artist[anchor], "track": pos[later], "session": session[later],
        "residual": time[later] - appeal[pos[later]],
    }).drop_duplicates(["artist", "track", "session"])
    if frame.empty:
        return {}
    by_session = frame.groupby("session")["residual"]
    count = by_session.transform("count")
    frame["residual"] -= by_session.transform("mean") * count / (count + 1.0)
    cells = frame.groupby(["artist", "track"])["residual"].agg(["sum", "count"]).reset_index()
    tracks = cells["track"].to_numpy()
    expected = appeal[tracks] + cells["sum"].to_numpy() / (cells["count"].to_numpy() + prior)
    artists = cells["artist"].to_numpy()
    keys, starts = np.unique(artists, return_index=True)
    ends = np.append(starts[1:], len(artists))
    return {int(a): (tracks[i:j], expected[i:j])
            for a, i, j in zip(keys.tolist(), starts.tolist(), ends.tolist(), strict=True)}


def _one_per_artist(ranked: np.ndarray, catalog: TrackCatalog) -> np.ndarray:
    """The first of each artist's tracks in ``ranked`` (positions), in ``ranked``'s order."""
    _, first = np.unique(catalog.artist[ranked], return_index=True)
    return ranked[np.sort(first)]
