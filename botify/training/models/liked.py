"""``liked``: each user's tracks heard through, most recent first (what a returning listener liked).

A user comes back to the tastes they had: a track they listened to past the positive threshold
(``--threshold``, by default 0.8) in an earlier session is one they are likely to enjoy again in a
session of the same taste. A user's list holds their distinct tracks listened past the threshold,
the most recently heard first, at most ``user_k`` of them; a user with none is left out. The
session-adaptive recommender takes them as candidates, each by how close it is to what the
session plays. Not trained by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from botify.events import TIMESTAMP, TRACK, USER
from botify.store.artifacts import PER_USER
from botify.training.artifacts import RecommendationLists
from botify.training.model import ModelBase

if TYPE_CHECKING:
    from botify.training.model import TrainData


class LikedModel(ModelBase):
    """Each user's distinct tracks listened past the threshold, most recent first."""

    name = "liked"
    kind = PER_USER
    default = False

    def fit(self, data: TrainData) -> RecommendationLists:
        from botify.training.dataset import positives

        with self.learning():
            heard = positives(data.sessions, self.settings.threshold)
        # Newest first; of two listens at one timestamp, the later one in the logs.
        heard = heard.iloc[::-1].sort_values([USER, TIMESTAMP], ascending=[True, False],
                                             kind="stable")
        heard = heard.drop_duplicates([USER, TRACK])
        heard = heard[heard.groupby(USER, sort=False).cumcount() < self.settings.user_k]
        users = heard[USER].to_numpy(dtype=np.int64)
        keys, starts = np.unique(users, return_index=True)
        items = np.split(heard[TRACK].to_numpy(dtype=np.int64), starts[1:]) if len(keys) else []
        return RecommendationLists(kind=PER_USER, keys=keys, items=items)
