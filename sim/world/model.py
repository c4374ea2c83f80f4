"""The world in memory: tracks with artists and unit embeddings, and users with hidden tastes.

Everything is held as numpy arrays indexed by *position* (a track's line in ``tracks.jsonl``, a
user's line in ``users.jsonl``); the ids that the service and the logs see are ``track_ids[i]`` and
``user_ids[u]``. Generated worlds use ids equal to positions, but nothing here relies on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.errors import SimError
from sim.threads import single_threaded_blas


@dataclass(eq=False)
class World:
    """Tracks and users of a simulated music service.

    Attributes:
        track_ids: (N,) int64, the id of the track at each position.
        artist_of: (N,) int64, the artist index of each track.
        artist_names: name of each artist index (unique).
        titles: title of each track.
        genres: genre name of each track ("" when unknown).
        years: (N,) int64, release year of each track (0 when unknown).
        embeddings: (N, D) float32, unit-length rows.
        user_ids: (M,) int64, the id of the user at each position.
        interest_offsets: (M + 1,) int64; the interests of user ``u`` are
            ``interest_tracks[interest_offsets[u]:interest_offsets[u + 1]]``.
        interest_tracks: track positions of all users' interests, concatenated.
        consume_bias: (M,) float64, the score at which a user listens to half of a track.
        consume_sharpness: (M,) float64, how steeply listening grows with the score.
        session_budget: (M,) int64, the budget each session starts with.
        artist_gamma: (M,) float64, the artist fatigue factor.
        interest_neighbours: (M,) int64, how many nearest tracks the first track is drawn from.
    """

    track_ids: np.ndarray
    artist_of: np.ndarray
    artist_names: list[str]
    titles: list[str]
    genres: list[str]
    years: np.ndarray
    embeddings: np.ndarray
    user_ids: np.ndarray
    interest_offsets: np.ndarray
    interest_tracks: np.ndarray
    consume_bias: np.ndarray
    consume_sharpness: np.ndarray
    session_budget: np.ndarray
    artist_gamma: np.ndarray
    interest_neighbours: np.ndarray
    # Caches, built on first use (not copied by dataclasses.replace).
    _index: dict[int, int] | None = field(default=None, init=False, repr=False)
    _artist_offsets: np.ndarray | None = field(default=None, init=False, repr=False)
    _artist_tracks: np.ndarray | None = field(default=None, init=False, repr=False)
    _nearest: dict[tuple[int, int], np.ndarray] = field(
        default_factory=dict, init=False, repr=False
    )

    @property
    def n_tracks(self) -> int:
        """Number of tracks."""
        return len(self.track_ids)

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.user_ids)

    @property
    def n_artists(self) -> int:
        """Number of artists."""
        return len(self.artist_names)

    def track_index(self, track_id: int) -> int:
        """The position of the track with id ``track_id``.

        Raises:
            SimError: no track has this id.
        """
        if self._index is None:
            self._index = {int(t): i for i, t in enumerate(self.track_ids.tolist())}
        try:
            return self._index[int(track_id)]
        except (KeyError, TypeError, ValueError):
            raise SimError(f"track {track_id!r} is not in the world's catalog") from None

    def interests(self, user: int) -> np.ndarray:
        """The interest track positions of the user at position ``user``."""
        return self.interest_tracks[self.interest_offsets[user] : self.interest_offsets[user + 1]]

    def artist_tracks(self, artist: int) -> np.ndarray:
        """The track positions of artist index ``artist``, in catalog order."""
        if self._artist_tracks is None:
            order = np.argsort(self.artist_of, kind="stable")
            counts = np.bincount(self.artist_of, minlength=self.n_artists)
            self._artist_offsets = np.concatenate([[0], np.cumsum(counts)])
            self._artist_tracks = order
        assert self._artist_offsets is not None
        return self._artist_tracks[self._artist_offsets[artist] : self._artist_offsets[artist + 1]]

    def track_record(self, track: int) -> dict[str, object]:
        """The catalog record (``tracks.jsonl`` line) of the track at position ``track``."""
        record: dict[str, object] = {
            "track": int(self.track_ids[track]),
            "artist": self.artist_names[int(self.artist_of[track])],
            "title": self.titles[track],
        }
        if self.genres[track]:
            record["genre"] = self.genres[track]
        if self.years[track]:
            record["year"] = int(self.years[track])
        return record

    def nearest(self, tracks: np.ndarray | list[int], k: int) -> list[np.ndarray]:
        """The ``k`` tracks of highest inner product with each of ``tracks``' embeddings.

        Each answer is sorted by inner product, descending (ties by position), and includes the
        track itself. Answers are cached, and uncached queries are computed in one batch.

        Args:
            tracks: track positions.
            k: how many neighbours (at most the number of tracks).

        Returns:
            One array of ``min(k, n_tracks)`` track positions per query.
        """
        k = min(int(k), self.n_tracks)
        wanted = [int(t) for t in tracks]
        missing = sorted({t for t in wanted if (t, k) not in self._nearest})
        with single_threaded_blas():
            for start in range(0, len(missing), _NEAREST_BATCH):
                batch = missing[start : start + _NEAREST_BATCH]
                scores = self.embeddings[batch] @ self.embeddings.T
                for row, track in zip(scores, batch, strict=True):
                    self._nearest[(track, k)] = _top_k(row, k)
        return [self._nearest[(t, k)] for t in wanted]


# Rows of the (queries x tracks) score matrix computed at once: 64 x 50,000 float32 is 12.8 MB.
_NEAREST_BATCH = 64


def _top_k(row: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest entries of ``row``, largest first, ties by position."""
    if k >= len(row):
        candidates = np.arange(len(row))
    else:
        # A cheap threshold first: the query itself scores 1, its artist's tracks close to it.
        above = row[row >= _THRESHOLD]
        pool = above if len(above) >= k else row
        cut = np.partition(pool, len(pool) - k)[len(pool) - k]
        candidates = np.flatnonzero(row >= cut)
    order = np.lexsort((candidates, -row[candidates]))
    return candidates[order][:k].astype(np.int64)


_THRESHOLD = 0.5
