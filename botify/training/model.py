"""The interface every trained model has: what it is called, what it writes, what it needs.

A model is a class registered like the recommenders (see :mod:`botify.registry`): a module of
``botify.training.models`` for the built-ins, an entry point of the group ``botify.models``, or an
import path ``module:Class``. It declares:

- ``name``: the artifact it writes (``OUT/<name>.jsonl``, loaded as artifact ``name``);
- ``kind``: the artifact's kind, one of ``botify.store.artifacts.KINDS`` (``ranking``,
  ``per_track`` lists with optional weights, ``per_user`` lists);
- ``needs`` (optional, default none): what it is fitted from beyond the logs (``("catalog",)``
  when it cannot do without the tracks catalog; ``botify train`` then refuses to run it without
  ``--catalog``);
- ``default`` (optional, default True): whether ``botify train`` and ``botify evaluate`` train it
  when ``--models`` is not given (the cosine ranker, a variant to compare, is False);

is built as ``cls(settings)`` from the :class:`~botify.training.pipeline.TrainSettings`, and
``fit(data)`` on a :class:`TrainData` returns the artifact: a
:class:`~botify.training.artifacts.RankedTracks` (kind ``ranking``) or a
:class:`~botify.training.artifacts.RecommendationLists` of its kind. The built-ins subclass
:class:`ModelBase` and keep what they fitted in ``estimator`` (loss curves, ``save``); a model need
not. ``botify check model NAME`` (:func:`botify.training.check.check_model`) runs the contract on a
model: fitted on a small synthetic log, written as ``botify train`` writes it, read back as
``botify load recs`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from botify.training.catalog import TrackCatalog

CATALOG = "catalog"
# What a model may declare in ``needs``.
NEEDS = (CATALOG,)


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
    default: ClassVar[bool]

    def __init__(self, settings: Any) -> None: ...

    def fit(self, data: TrainData) -> Any:
        """Fit on ``data``; the artifact."""
        ...


class ModelBase:
    """What the built-in models share: the settings, and the fitted algorithm in ``estimator``."""

    needs: ClassVar[tuple[str, ...]] = ()
    default: ClassVar[bool] = True

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.estimator: Any = None


def default_models() -> list[str]:
    """The built-in models trained when none are named: those whose ``default`` is true."""
    from botify.registry import MODELS

    return [name for name, cls in MODELS.builtins.items() if getattr(cls, "default", True)]


def check_artifact(cls: type, artifact: Any, what: str) -> None:
    """Raise unless ``artifact`` is what a model of class ``cls`` must return from ``fit``.

    Raises:
        ConfigError: not a ``RankedTracks`` or ``RecommendationLists``, or not of the declared kind.
    """
    from botify.errors import ConfigError
    from botify.training.artifacts import RankedTracks, RecommendationLists

    if not isinstance(artifact, RankedTracks | RecommendationLists):
        raise ConfigError(
            f"{what}: fit() returned {type(artifact).__name__}, not a RankedTracks or "
            "RecommendationLists (botify.training.artifacts)"
        )
    if artifact.kind != cls.kind:
        raise ConfigError(
            f"{what}: {cls.__name__}.kind is {cls.kind!r} but fit() returned a {artifact.kind} "
            "artifact"
        )


def describe_failure(exc: BaseException) -> str:
    """``Type: message (at file:line)``: where a model's code raised."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    at = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{at}"
