"""``sasrec``: SASRec, self-attention over each user's tracks in time order (PyTorch).

One fit writes three artifacts: ``sasrec`` (each track's nearest tracks by cosine of the learned
item embeddings), ``sasrec_user`` (each user's best next tracks after their most recent events,
unheard ones only) and ``sasrec_embeddings`` (the item embeddings, float32, row = track id).
Not trained by default (slower than the others): ``--models sasrec``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import EMBEDDINGS
from botify.training.model import ModelBase

if TYPE_CHECKING:
    from botify.training.model import TrainData

USER_LISTS = "sasrec_user"
EMBEDDINGS_NAME = "sasrec_embeddings"


class SASRecModel(ModelBase):
    """Per-track, per-user lists and item embeddings of :class:`botify.training.sasrec.SASRec`."""

    name = "sasrec"
    kind = PER_TRACK
    extra = {USER_LISTS: PER_USER, EMBEDDINGS_NAME: EMBEDDINGS}
    default = False

    def fit(self, data: TrainData) -> dict:
        from botify.training.sasrec import SASRec

        settings = self.settings
        kwargs = {
            "track_k": settings.track_k,
            "user_k": settings.user_k,
            "threshold": settings.threshold,
        }
        sasrec = self.make(SASRec, **{**kwargs, **settings.torch_kwargs(settings.sasrec)})
        with self.learning():
            self.estimator = sasrec.fit(data.sessions)
        return {
            self.name: self.estimator.similar_tracks(),
            USER_LISTS: self.estimator.user_lists(),
            EMBEDDINGS_NAME: self.estimator.embeddings(),
        }
