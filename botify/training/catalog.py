"""The catalog as side features of the models: each track's artist and genre, as dense codes.

Event logs from a cold start are far too sparse to place most tracks (a day of traffic is a few
events per track), but the catalog says which tracks share an artist and a genre, and listeners'
tastes follow both. The models use it to fill item-to-item lists beyond what the logs observed
(``appeal.appeal_lists``) and as extra embeddings of the contextual ranker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from botify.errors import DataError
from botify.training.dataset import IdIndex


@dataclass(frozen=True)
class TrackCatalog:
    """Tracks with their artist and genre codes.

    Attributes:
        tracks: the track ids (an :class:`IdIndex`, ascending).
        artist: per track (in ``tracks`` order), its artist's code ``0..n_artists-1``.
        genre: per track, its genre's code ``0..n_genres-1``; tracks without a genre share one
            code per artist (the artist is then its own genre).
    """

    tracks: IdIndex
    artist: np.ndarray
    genre: np.ndarray

    @property
    def n_artists(self) -> int:
        """How many artists."""
        return int(self.artist.max()) + 1 if len(self.artist) else 0

    @property
    def n_genres(self) -> int:
        """How many genres."""
        return int(self.genre.max()) + 1 if len(self.genre) else 0

    @classmethod
    def from_records(cls, records: list[dict]) -> TrackCatalog:
        """Build from catalog records (``track``, ``artist`` and, optionally, ``genre``).

        Raises:
            DataError: no records, or a track id appears twice.
        """
        if not records:
            raise DataError("the catalog holds no tracks")
        ids = np.array([int(r["track"]) for r in records], dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        if len(ids) > 1 and np.any(ids[1:] == ids[:-1]):
            raise DataError("the catalog holds a track id twice")
        artists = [str(records[i]["artist"]) for i in order.tolist()]
        genres = [
            g if isinstance(g := records[i].get("genre"), str) and g else f"\0artist:{artists[j]}"
            for j, i in enumerate(order.tolist())
        ]
        _, artist = np.unique(np.array(artists, dtype=object), return_inverse=True)
        _, genre = np.unique(np.array(genres, dtype=object), return_inverse=True)
        return cls(IdIndex(ids), artist.astype(np.int64), genre.astype(np.int64))

    @classmethod
    def read(cls, path: str | os.PathLike) -> TrackCatalog:
        """Read a tracks JSONL file (the catalog format).

        Raises:
            DataError: the file is missing or malformed.
        """
        from botify.store.catalog import parse_catalog

        records, _ = parse_catalog(path)
        return cls.from_records(records)

    def codes(self, track_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions, artist codes and genre codes of ``track_ids`` (-1 for tracks not in it)."""
        pos = self.tracks.lookup(track_ids)
        known = pos >= 0
        artist = np.where(known, self.artist[np.maximum(pos, 0)], -1)
        genre = np.where(known, self.genre[np.maximum(pos, 0)], -1)
        return pos, artist, genre
