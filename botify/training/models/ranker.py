"""``ranker``: the contextual ranker (PyTorch), the dot product of track embeddings."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from botify.errors import DataError
from botify.store.artifacts import PER_TRACK
from botify.training.model import ModelBase

if TYPE_CHECKING:
    from botify.training.artifacts import RecommendationLists
    from botify.training.model import TrainData


class RankerModel(ModelBase):
    """Top next tracks per track with the predicted times as weights (``botify.training.ranker``);
    with the catalog, artist and genre embeddings too, and a list for every catalog track."""

    name = "ranker"
    kind = PER_TRACK
    variant: ClassVar[str] = "dot"

    def fit(self, data: TrainData) -> RecommendationLists:
        from botify.training.ranker import ContextualRanker

        if data.transitions.empty:
            raise DataError("the event logs hold no transitions (every session has one event)")
        settings = self.settings
        kwargs = {"k": settings.track_k, "variant": self.variant, "catalog": data.catalog}
        ranker = ContextualRanker(**{**kwargs, **settings.torch_kwargs(settings.ranker)})
        self.estimator = ranker.fit(data.transitions)
        return self.estimator.recommendations()
