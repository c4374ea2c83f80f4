"""Generating a world from a seed: genres, artists, tracks with structured embeddings, and users.

The geometry: every genre has a random unit centre; an artist's centre is its genre's centre plus
noise; a track's embedding is its artist's centre plus noise, normalised. So tracks of one artist
are close together (inner product about 0.83 with the default spreads), tracks of one genre less
so (about 0.67), and the rest near 0. Artist popularity is heavy-tailed (log-normal), popular
artists have more tracks, and users' interests are drawn by track popularity.

The defaults make tastes broad enough to be learned: a session's genre is a cluster of many
artists whose tracks the user listens to in part, so the nearest tracks of the session's first
track (at most two per artist) get about 78% of the oracle's session time, while a random track,
nearly always of another genre, is hardly listened to (``python -m sim.calibrate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.world import names
from sim.world.model import World


@dataclass(frozen=True)
class WorldParams:
    """The knobs of the generator (the defaults are calibrated: ``python -m sim.calibrate``).

    Attributes:
        dim: embedding dimension.
        tracks_per_artist: mean number of tracks per artist.
        tracks_per_genre: about how many tracks per genre.
        min_genres: the fewest genres a world has (at most 40 however many tracks), so that in a
            small world too a random track is rarely of the session's genre.
        artist_spread: noise of an artist's centre around its genre's (relative to the unit centre).
        track_spread: noise of a track around its artist's centre.
        artist_popularity_sigma: sigma of the log-normal artist popularity (heavy tail).
        track_popularity_sigma: sigma of a track's log-normal popularity within its artist.
        interests_max: users have 1 + Binomial(interests_max - 1, 0.5) interests.
        consume_bias: (low, high) of the uniform ``consume_bias``.
        consume_sharpness: (low, high) of the uniform ``consume_sharpness``.
        session_budget: (low, high) inclusive range of the uniform integer budget.
        artist_gamma: (low, high) of the uniform artist fatigue factor.
        interest_neighbours: how many nearest tracks a session's first track is drawn from.
    """

    dim: int = 32
    tracks_per_artist: float = 10.0
    tracks_per_genre: int = 2500
    min_genres: int = 10
    artist_spread: float = 0.5
    track_spread: float = 0.45
    artist_popularity_sigma: float = 1.5
    track_popularity_sigma: float = 0.7
    interests_max: int = 6
    consume_bias: tuple[float, float] = (0.6, 0.9)
    consume_sharpness: tuple[float, float] = (3.0, 6.0)
    session_budget: tuple[int, int] = (5, 5)
    artist_gamma: tuple[float, float] = (0.7, 0.9)
    interest_neighbours: int = 10


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def generate_world(
    seed: int,
    n_tracks: int = 50_000,
    n_users: int = 10_000,
    params: WorldParams | None = None,
) -> World:
    """Generate a world; the same arguments always give the same world.

    Args:
        seed: seed of the world's random generator.
        n_tracks: number of tracks (ids ``0..n_tracks-1``).
        n_users: number of users (ids ``0..n_users-1``).
        params: the generator's knobs (defaults: :class:`WorldParams`).

    Returns:
        The world.

    Raises:
        ValueError: ``n_tracks`` or ``n_users`` is less than 1.
    """
    if n_tracks < 1 or n_users < 1:
        raise ValueError("a world needs at least one track and one user")
    p = params or WorldParams()
    rng = np.random.default_rng(seed)

    n_genres = int(np.clip(round(n_tracks / p.tracks_per_genre), min(p.min_genres, 40), 40))
    n_artists = max(1, min(n_tracks, round(n_tracks / p.tracks_per_artist)))
    genre_weights = rng.dirichlet(np.full(n_genres, 3.0))
    genre_centres = _unit(rng.standard_normal((n_genres, p.dim)))
    genre_label = names.genre_names(n_genres, rng)

    artist_popularity = rng.lognormal(0.0, p.artist_popularity_sigma, n_artists)
    artist_genre = rng.choice(n_genres, size=n_artists, p=genre_weights)
    artist_centres = _unit(
        genre_centres[artist_genre]
        + p.artist_spread * _unit(rng.standard_normal((n_artists, p.dim)))
    )
    # Every artist has a track; the rest go to artists by popularity (popular artists record more).
    share = np.sqrt(artist_popularity)
    counts = 1 + rng.multinomial(n_tracks - n_artists, share / share.sum())
    artist_of = rng.permutation(np.repeat(np.arange(n_artists), counts)).astype(np.int64)
    embeddings = _unit(
        artist_centres[artist_of] + p.track_spread * _unit(rng.standard_normal((n_tracks, p.dim)))
    ).astype(np.float32)
    popularity = artist_popularity[artist_of] * rng.lognormal(
        0.0, p.track_popularity_sigma, n_tracks
    )
    first_year = rng.integers(1960, 2021, size=n_artists)
    years = np.minimum(first_year[artist_of] + rng.integers(0, 12, size=n_tracks), 2025)

    artist_label = names.artist_names(n_artists, rng)
    # Number artists in order of first appearance in the catalog, as loading the files does.
    _, first_seen = np.unique(artist_of, return_index=True)
    order = np.argsort(first_seen)
    relabel = np.empty(n_artists, dtype=np.int64)
    relabel[order] = np.arange(n_artists)
    genre_of_track = artist_genre[artist_of]
    artist_of = relabel[artist_of]
    artist_label = [artist_label[a] for a in order.tolist()]
    titles = names.track_titles(n_tracks, rng)

    n_interests = 1 + rng.binomial(p.interests_max - 1, 0.5, size=n_users)
    drawn = rng.choice(n_tracks, size=int(n_interests.sum()), p=popularity / popularity.sum())
    # A user's interests are distinct tracks: repeats are dropped, keeping the first occurrence.
    interest_lists = []
    start = 0
    for count in n_interests.tolist():
        picks = drawn[start : start + count]
        start += count
        _, first = np.unique(picks, return_index=True)
        interest_lists.append(picks[np.sort(first)])
    interest_counts = np.array([len(x) for x in interest_lists], dtype=np.int64)

    consume_bias = np.round(rng.uniform(*p.consume_bias, size=n_users), 4)
    consume_sharpness = np.round(rng.uniform(*p.consume_sharpness, size=n_users), 4)
    budget = rng.integers(p.session_budget[0], p.session_budget[1] + 1, size=n_users)
    gamma = np.round(rng.uniform(*p.artist_gamma, size=n_users), 4)

    return World(
        track_ids=np.arange(n_tracks, dtype=np.int64),
        artist_of=artist_of,
        artist_names=artist_label,
        titles=titles,
        genres=[genre_label[g] for g in genre_of_track.tolist()],
        years=years.astype(np.int64),
        embeddings=embeddings,
        user_ids=np.arange(n_users, dtype=np.int64),
        interest_offsets=np.concatenate([[0], np.cumsum(interest_counts)]).astype(np.int64),
        interest_tracks=np.concatenate(interest_lists).astype(np.int64),
        consume_bias=consume_bias,
        consume_sharpness=consume_sharpness,
        session_budget=budget.astype(np.int64),
        artist_gamma=gamma,
        interest_neighbours=np.full(n_users, p.interest_neighbours, dtype=np.int64),
    )
