"""``als``: ALS matrix factorization (the ``implicit`` library) of the positives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botify.store.artifacts import PER_USER
from botify.training.model import ModelBase

if TYPE_CHECKING:
    from botify.training.artifacts import RecommendationLists
    from botify.training.model import TrainData


class ALSModel(ModelBase):
    """Top tracks per user by ``user . track`` score (``botify.training.als``)."""

    name = "als"
    kind = PER_USER

    def fit(self, data: TrainData) -> RecommendationLists:
        from botify.training.als import ALS

        settings = self.settings
        kwargs = {"k": settings.user_k, "seed": settings.seed, "progress": settings.progress}
        kwargs |= {"threads": settings.threads, "threshold": settings.threshold}
        als = self.make(ALS, **{**kwargs, **settings.als})
        with self.learning():
            self.estimator = als.fit(data.sessions)
        return self.estimator.recommendations()
