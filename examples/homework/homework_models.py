"""A homework model: item-to-item lists by cosine similarity of the tracks' listeners.

Trained in a plan as ``models = ["homework_models:ItemKNN"]``, or by
``botify train --logs LOGS --out DIR --models homework_models:ItemKNN``; writes ``item_knn``.
"""

import numpy as np
import scipy.sparse as sp

from botify.store.artifacts import PER_TRACK
from botify.training.artifacts import RecommendationLists


class ItemKNN:
    """For each track, the ``k`` tracks whose listeners overlap most with its own (cosine over
    a user x track matrix of summed listened time)."""

    name = "item_knn"
    kind = PER_TRACK
    needs = ()

    def __init__(self, settings, k: int = 50, min_listeners: int = 2) -> None:
        self.k = k
        self.min_listeners = min_listeners

    def fit(self, data):
        listens = data.sessions.groupby(["user", "track"])["time"].sum().reset_index()
        listens = listens[listens["time"] > 0]
        users, user_index = np.unique(listens["user"].to_numpy(), return_inverse=True)
        tracks, track_index = np.unique(listens["track"].to_numpy(), return_inverse=True)
        matrix = sp.csr_matrix((listens["time"].to_numpy(), (track_index, user_index)),
                               shape=(len(tracks), len(users)))
        norms = np.sqrt(matrix.multiply(matrix).sum(axis=1)).A1
        keep = np.flatnonzero(np.diff(matrix.indptr) >= self.min_listeners)
        unit = sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix
        keys, items, weights = [], [], []
        for start in range(0, len(keep), 1000):  # similarities a thousand rows at a time
            rows = keep[start : start + 1000]
            similar = (unit[rows] @ unit.T).tocsr()
            for row, track in enumerate(rows):
                begin, end = similar.indptr[row], similar.indptr[row + 1]
                others, scores = similar.indices[begin:end], similar.data[begin:end]
                mask = others != track
                others, scores = others[mask], scores[mask]
                best = np.argsort(-scores, kind="stable")[: self.k]
                if len(best):
                    keys.append(tracks[track])
                    items.append(tracks[others[best]])
                    weights.append(scores[best].astype(np.float64))
        return RecommendationLists(PER_TRACK, np.asarray(keys, dtype=np.int64), items, weights)
