"""ALS (the ``implicit`` library): matrix factorization of the implicit user-track matrix.

The confidence of a (user, track) cell is ``alpha`` times the number of times the user listened to
the track past the threshold (``time > 0.8``); empty cells are negatives of confidence 1 (Hu, Koren
and Volinsky). A user's list is the tracks with the largest ``user . track`` scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from botify.events import TRACK, USER
from botify.store.artifacts import PER_USER
from botify.training.artifacts import RecommendationLists
from botify.training.dataset import POSITIVE_THRESHOLD, IdIndex, interaction_matrix, positives


class ALS:
    """ALS recommendations per user: hyperparameters here, factors after :meth:`fit`.

    Args:
        factors: size of the latent factors (128 beat 64 and 32 on the planted benchmark logs:
            recall@10 0.39 against 0.26 and 0.22).
        regularization: L2 penalty of the factors.
        alpha: confidence per positive listen.
        iterations: ALS sweeps.
        k: tracks per user when exported.
        threshold: a listen is a positive when ``time > threshold``.
        exclude_seen: leave a user's own positives out of their list (off: users come back to the
            tracks they like; on the planted benchmark logs it cuts recall@10 from 0.26 to 0.035).
        seed: seeds the initial factors.
        threads: solver threads.
        progress: show the library's progress bar.
    """

    def __init__(
        self,
        factors: int = 128,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        k: int = 50,
        threshold: float = POSITIVE_THRESHOLD,
        exclude_seen: bool = False,
        seed: int = 0,
        threads: int = 2,
        progress: bool = True,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.k = k
        self.threshold = threshold
        self.exclude_seen = exclude_seen
        self.seed = seed
        self.threads = threads
        self.progress = progress
        self.users: IdIndex | None = None
        self.tracks: IdIndex | None = None
        self.matrix: sp.csr_matrix | None = None
        self.model: AlternatingLeastSquares | None = None

    def fit(self, events: pd.DataFrame) -> ALS:
        """Learn from events (any frame with ``user, track, time``); users need a positive.

        Raises:
            ValueError: no event is a positive.
        """
        positive = positives(events, self.threshold)
        users = IdIndex.of(positive[USER].to_numpy())
        tracks = IdIndex.of(positive[TRACK].to_numpy())
        matrix = interaction_matrix(positive, users, tracks, self.threshold)
        # implicit warns (and slows down) when BLAS runs its own thread pool inside the solver.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.threads,
            )
            model.fit(matrix, show_progress=self.progress)
        self.users, self.tracks, self.matrix, self.model = users, tracks, matrix, model
        return self

    def recommendations(self, k: int | None = None) -> RecommendationLists:
        """The top-``k`` tracks of every user with a positive (the ``als`` artifact)."""
        if self.model is None or self.users is None or self.tracks is None or self.matrix is None:
            raise RuntimeError("call fit() first")
        k = min(self.k if k is None else k, len(self.tracks))
        rows = np.arange(len(self.users))
        with threadpool_limits(1, "blas"):
            ids, _ = self.model.recommend(
                rows, self.matrix, N=k, filter_already_liked_items=self.exclude_seen
            )
        # implicit pads short lists with -1 when filtering leaves fewer than k candidates.
        items = [self.tracks.ids[row[row >= 0]] for row in ids]
        return RecommendationLists(kind=PER_USER, keys=self.users.ids, items=items)
