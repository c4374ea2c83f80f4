"""``ranker_cosine``: the contextual ranker on the cosine of the embeddings (trained when named)."""

from __future__ import annotations

from botify.training.models.ranker import RankerModel


class RankerCosineModel(RankerModel):
    """:class:`RankerModel` with ``variant="cosine"``: a variant to compare, not trained by
    default (``--models ranker_cosine``)."""

    name = "ranker_cosine"
    variant = "cosine"
    default = False
