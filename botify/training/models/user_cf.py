"""``user_cf``: user-based collaborative filtering on mean-centred listen time (the seminar model).

A user's row of the sparse user x track matrix holds, for each track they heard, the mean time they
listened to it minus that user's mean over their tracks: above zero, a track they liked more than
usual. Two users are as similar as the cosine of their centred rows; each user keeps their
``n_neighbors`` most similar users of positive similarity, and a track's score is the similarity-
weighted sum of the neighbours' centred times. A user's list is their top ``k`` tracks of positive
score that they have not heard yet; a user without a neighbour (one track, or the same time on
every track: a row of zeros), or whose neighbours leave no track of positive score, is left out.
Similarities are computed for chunks of users at a time (dense ``chunk x users`` and ``chunk x
tracks`` blocks: 100 MB for 256 users and 50,000 tracks), the top neighbours of each row by
``argpartition``. Deterministic: no randomness, ties between tracks broken by the lower track id.

Trained by default: on a synthetic log of 500,000 events (``botify.training.synthetic``: 9,966
users, 49,941 tracks) on a 2-core machine, ``botify train --quiet`` of the five other default
models took 150 s, and 147 s with ``user_cf`` too (the difference is noise: ``user_cf`` alone fits
in 2.4 to 2.8 s, less than ALS, far less than MultiDAE and the ranker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from botify.events import TIME, TRACK, USER
from botify.store.artifacts import PER_USER
from botify.training.artifacts import RecommendationLists
from botify.training.dataset import IdIndex
from botify.training.model import ModelBase

if TYPE_CHECKING:
    import pandas as pd

    from botify.training.model import TrainData

# Centred times closer to zero than this are zero (a constant user's float residue).
_EPS = 1e-9


class UserCF:
    """User-based CF: hyperparameters here, the centred matrix after :meth:`fit`.

    Args:
        n_neighbors: the most similar users (positive similarity only) each user's list is from.
        k: tracks per user.
        chunk: users whose similarities are computed at a time.
        progress: show a progress bar over the chunks.
    """

    def __init__(
        self, n_neighbors: int = 50, k: int = 50, chunk: int = 256, progress: bool = True
    ) -> None:
        if n_neighbors < 1 or k < 1 or chunk < 1:
            raise ValueError(f"n_neighbors, k and chunk must be positive, got "
                             f"{n_neighbors}, {k}, {chunk}")
        self.n_neighbors = n_neighbors
        self.k = k
        self.chunk = chunk
        self.progress = progress
        self.users: IdIndex | None = None
        self.tracks: IdIndex | None = None
        self.centred: sp.csr_matrix | None = None
        self.heard: sp.csr_matrix | None = None

    def fit(self, events: pd.DataFrame) -> UserCF:
        """Build the centred user x track matrix from events (any frame with ``user, track, time``).

        Raises:
            ValueError: no events.
        """
        if events.empty:
            raise ValueError("no events")
        cells = events.groupby([USER, TRACK], sort=True)[TIME].mean()
        users = IdIndex.of(events[USER].to_numpy())
        tracks = IdIndex.of(events[TRACK].to_numpy())
        rows = users.lookup(cells.index.get_level_values(USER).to_numpy())
        cols = tracks.lookup(cells.index.get_level_values(TRACK).to_numpy())
        shape = (len(users), len(tracks))
        mean_time = cells.to_numpy(dtype=np.float64)
        # Sorted by (user, track): each user's cells are one run, as in CSR.
        per_row = np.bincount(rows, minlength=len(users))
        indptr = np.concatenate([[0], np.cumsum(per_row)])
        user_mean = np.add.reduceat(mean_time, indptr[:-1]) / per_row
        centred_data = mean_time - np.repeat(user_mean, per_row)
        centred_data[np.abs(centred_data) < _EPS] = 0.0
        self.heard = sp.csr_matrix(
            (np.ones(len(mean_time), dtype=np.int8), cols, indptr), shape=shape
        )
        centred = sp.csr_matrix((centred_data, cols, indptr), shape=shape)
        centred.eliminate_zeros()
        self.users, self.tracks, self.centred = users, tracks, centred
        return self

    def recommendations(self) -> RecommendationLists:
        """The list of every user with a neighbour (the ``user_cf`` artifact).

        Raises:
            ValueError: no user has a neighbour.
        """
        from tqdm import tqdm

        if self.users is None or self.tracks is None or self.centred is None:
            raise RuntimeError("call fit() first")
        centred, heard = self.centred, self.heard
        norms = np.sqrt(np.asarray(centred.multiply(centred).sum(axis=1)).ravel())
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        unit = sp.csr_matrix(sp.diags(scale) @ centred)
        unit_t = sp.csr_matrix(unit.T)
        n_users = len(self.users)
        n_neighbors = min(self.n_neighbors, n_users - 1)
        keys: list[int] = []
        items: list[np.ndarray] = []
        starts = range(0, n_users, self.chunk)
        for start in tqdm(starts, desc="user_cf", unit="chunk", disable=not self.progress):
            stop = min(start + self.chunk, n_users)
            neighbours = self._neighbours(unit[start:stop], unit_t, start, n_neighbors)
            scores = (neighbours @ centred).toarray()
            chunk_heard = heard[start:stop].nonzero()
            scores[chunk_heard] = 0.0
            for offset, row in enumerate(scores):
                top = _top_positive(row, self.k)
                if len(top):
                    keys.append(start + offset)
                    items.append(self.tracks.ids[top])
        if not keys:
            raise ValueError(
                "no two users have a positive similarity (one user, or listen times that do not "
                "vary within any user's tracks)"
            )
        return RecommendationLists(kind=PER_USER, keys=self.users.ids[keys], items=items)

    @staticmethod
    def _neighbours(
        block: sp.csr_matrix, unit_t: sp.csr_matrix, start: int, n_neighbors: int
    ) -> sp.csr_matrix:
        """``block`` users' top ``n_neighbors`` similarities (positive only) as sparse rows."""
        similarity = (block @ unit_t).toarray()
        rows = np.arange(similarity.shape[0])
        similarity[rows, start + rows] = 0.0  # not one's own neighbour
        if n_neighbors < 1:
            return sp.csr_matrix(similarity.shape)
        top = np.argpartition(-similarity, n_neighbors - 1, axis=1)[:, :n_neighbors]
        weights = np.take_along_axis(similarity, top, axis=1)
        weights[weights <= _EPS] = 0.0
        result = sp.csr_matrix(
            (weights.ravel(), (np.repeat(rows, n_neighbors), top.ravel())), shape=similarity.shape
        )
        result.eliminate_zeros()
        return result


def _top_positive(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest positive scores, best first, ties by the lower index."""
    candidates = np.flatnonzero(scores > _EPS)
    if len(candidates) > k:
        kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
        candidates = candidates[scores[candidates] >= kth]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:k]]


class UserCFModel(ModelBase):
    """Per-user lists from the most similar users' listen times (:class:`UserCF`)."""

    name = "user_cf"
    kind = PER_USER

    def fit(self, data: TrainData) -> RecommendationLists:
        settings = self.settings
        kwargs = {"k": settings.user_k, "progress": settings.progress}
        cf = self.make(UserCF, **{**kwargs, **settings.user_cf})
        with self.learning():
            self.estimator = cf.fit(data.sessions)
            return self.estimator.recommendations()
