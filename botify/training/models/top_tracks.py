"""``top_tracks``: tracks ranked by the total time listened to them (the ranking behind TopPop)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botify.store.artifacts import RANKING
from botify.training.model import ModelBase

if TYPE_CHECKING:
    from botify.training.artifacts import RankedTracks
    from botify.training.model import TrainData


class TopTracksModel(ModelBase):
    """Total listened time per track (``botify.training.popularity``)."""

    name = "top_tracks"
    kind = RANKING

    def fit(self, data: TrainData) -> RankedTracks:
        from botify.training.popularity import TopTracks

        self.estimator = TopTracks().fit(data.sessions)
        return self.estimator.ranking
