"""The interface every trained model has: what it is called, what it writes, what it needs.

A model is a class registered like the recommenders (see :mod:`botify.registry`): a module of
``botify.training.models`` for the built-ins, an entry point of the group ``botify.models``, or an
import path ``module:Class``. It declares:

- ``name``: the artifact it writes (``OUT/<name>.jsonl``, loaded as artifact ``name``);
- ``kind``: the artifact's kind, one of ``botify.store.artifacts.KINDS`` (``ranking``,
  ``per_track`` lists with optional weights, ``per_user`` lists);
- ``needs``: what it is fitted from beyond the logs (``("catalog",)`` when it cannot do without the
  tracks catalog);

is built as ``cls(settings)`` from the :class:`~botify.training.pipeline.TrainSettings`, and
``fit(data)`` on a :class:`TrainData` returns the artifact (a ``RankedTracks`` or a
``RecommendationLists`` of its kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from botify.training.catalog import TrackCatalog

CATALOG = "catalog"


@dataclass
class TrainData:
    """What models are fitted from.

    Attributes:
        sessions: the events, sessionized (``botify.training.dataset.session_events``).
        catalog: the tracks catalog as side features, when given (``--catalog``).
    """

    sessions: pd.DataFrame
    catalog: TrackCatalog | None = None

    @cached_property
    def transitions(self) -> pd.DataFrame:
        """The sessions' consecutive pairs (computed once, shared by the models)."""
        from botify.training.dataset import transitions

        return transitions(self.sessions)


class Model(Protocol):
    """A trained model (see the module docstring)."""

    name: ClassVar[str]
    kind: ClassVar[str]
    needs: ClassVar[tuple[str, ...]]

    def __init__(self, settings: Any) -> None: ...

    def fit(self, data: TrainData) -> Any:
        """Fit on ``data``; the artifact."""
        ...
