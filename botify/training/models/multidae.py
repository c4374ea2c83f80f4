"""``multidae``: the MultiDAE autoencoder over the user-track matrix (PyTorch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botify.store.artifacts import PER_USER
from botify.training.model import ModelBase

if TYPE_CHECKING:
    from botify.training.artifacts import RecommendationLists
    from botify.training.model import TrainData


class MultiDAEModel(ModelBase):
    """Top tracks per user by logit, from the positives (``botify.training.multidae``)."""

    name = "multidae"
    kind = PER_USER

    def fit(self, data: TrainData) -> RecommendationLists:
        from botify.training.multidae import MultiDAE

        settings = self.settings
        kwargs = {"k": settings.user_k, "threshold": settings.threshold}
        dae = self.make(MultiDAE, **{**kwargs, **settings.torch_kwargs(settings.multidae)})
        with self.learning():
            self.estimator = dae.fit(data.sessions)
        return self.estimator.recommendations()
