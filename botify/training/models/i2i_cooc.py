"""``i2i_cooc``: per-track lists of next tracks, from co-occurrence or, with the catalog, from
genre appeal and what each artist's listeners went on to enjoy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botify.store.artifacts import PER_TRACK
from botify.training.model import ModelBase

if TYPE_CHECKING:
    from botify.training.artifacts import RecommendationLists
    from botify.training.model import TrainData


class CooccurrenceModel(ModelBase):
    """The next tracks with the most listened time after a track (``cooccurrence.py``); with the
    catalog, every catalog track gets a list of its genre's tracks by the time expected after its
    artist was heard through (``appeal.py``)."""

    name = "i2i_cooc"
    kind = PER_TRACK

    def fit(self, data: TrainData) -> RecommendationLists:
        k, seed = self.settings.track_k, self.settings.seed
        if data.catalog is not None:
            from botify.training.appeal import appeal_lists

            self.estimator = appeal_lists(
                data.sessions, data.catalog, k=k, threshold=self.settings.threshold, seed=seed
            )
            return self.estimator
        from botify.training.cooccurrence import Cooccurrence

        self.estimator = Cooccurrence(k=k).fit(data.transitions)
        return self.estimator.recommendations()
