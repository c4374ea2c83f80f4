"""``hybrid_mf``: a factorization with artist and genre features, ranked by BPR or WARP (LightFM).

One fit writes three artifacts: ``hybrid_mf``, each user's top tracks by ``user . track + bias``
not yet heard, ``hybrid_mf_i2i``, each track's nearest tracks by the cosine of the representations
(``botify.training.hybrid_mf``), and ``hybrid_mf_embeddings``, the representations themselves
(float32, row = track id; a track of the catalog that no log played has its artist's and genre's).
The catalog is optional: without it, plain BPR-MF over track ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import EMBEDDINGS
from botify.training.model import ModelBase

if TYPE_CHECKING:
    from botify.training.artifacts import RecommendationLists
    from botify.training.model import TrainData

I2I = "hybrid_mf_i2i"
EMBEDDINGS_NAME = "hybrid_mf_embeddings"


class HybridMFModel(ModelBase):
    """Per-user and per-track lists from one factorization with side features."""

    name = "hybrid_mf"
    kind = PER_USER
    extra = {I2I: PER_TRACK, EMBEDDINGS_NAME: EMBEDDINGS}
    default = False

    def fit(self, data: TrainData) -> dict[str, RecommendationLists]:
        from botify.training.hybrid_mf import HybridMF

        settings = self.settings
        kwargs = {"k": settings.user_k, "track_k": settings.track_k,
                  "threshold": settings.threshold, "catalog": data.catalog}
        mf = self.make(HybridMF, **{**kwargs, **settings.torch_kwargs(settings.hybrid_mf)})
        with self.learning():
            self.estimator = mf.fit(data.sessions)
        return {self.name: self.estimator.user_lists(), I2I: self.estimator.track_lists(),
                EMBEDDINGS_NAME: self.estimator.embeddings()}
