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
- ``extra`` (optional, default none): further artifacts one fit writes, name -> kind (a sequential
  model's per-user lists and item embeddings beside its per-track lists); the kinds include
  ``embeddings`` (:class:`~botify.training.artifacts.ItemEmbeddings`, ``OUT/<name>.npy``);

is built as ``cls(settings)`` from the :class:`~botify.training.pipeline.TrainSettings`, and
``fit(data)`` on a :class:`TrainData` returns the artifact: a
:class:`~botify.training.artifacts.RankedTracks` (kind ``ranking``) or a
:class:`~botify.training.artifacts.RecommendationLists` of its kind; a model with ``extra``
returns a dict of every artifact it declares (:func:`outputs`), name -> artifact. The built-ins
subclass :class:`ModelBase` and keep what they fitted in ``estimator`` (loss curves, ``save``); a
model need not. ``botify check model NAME`` (:func:`botify.training.check.check_model`) runs the
contract on a model: fitted on a small synthetic log, written as ``botify train`` writes it, read
back as ``botify load recs`` reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from botify.errors import ConfigError, DataError

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

    def make(self, algorithm: Callable[..., Any], **kwargs: Any) -> Any:
        """``algorithm(**kwargs)``; a setting it refuses (ValueError) is a ConfigError naming
        the model."""
        try:
            return algorithm(**kwargs)
        except ValueError as exc:
            raise ConfigError(f"the settings of {self.name}: {exc}") from None

    @contextmanager
    def learning(self) -> Iterator[None]:
        """Where the algorithm learns: logs it cannot learn from (ValueError) are a DataError
        naming the model."""
        try:
            yield
        except ValueError as exc:
            raise DataError(f"the event logs cannot train {self.name}: {exc}") from None


def default_models() -> list[str]:
    """The built-in models trained when none are named: those whose ``default`` is true."""
    from botify.registry import MODELS

    return [name for name, cls in MODELS.builtins.items() if getattr(cls, "default", True)]


def model_kinds() -> tuple[str, ...]:
    """The kinds a model's artifacts may have: the store's, and ``embeddings``."""
    from botify.store.artifacts import KINDS
    from botify.training.artifacts import EMBEDDINGS

    return (*KINDS, EMBEDDINGS)


def outputs(cls: type) -> dict[str, str]:
    """Every artifact a model class writes, name -> kind: its own, then its ``extra`` ones."""
    return {cls.name: cls.kind, **dict(getattr(cls, "extra", None) or {})}


def check_artifacts(cls: type, result: Any, what: str) -> dict[str, Any]:
    """The artifacts ``fit`` returned, name -> artifact, if they are what ``cls`` declares.

    Raises:
        ConfigError: not an artifact class of ``botify.training.artifacts`` (or, for a model with
            ``extra``, not a dict of exactly its declared names), or not of the declared kind.
    """
    from collections.abc import Mapping

    from botify.errors import ConfigError
    from botify.training.artifacts import ARTIFACT_TYPES

    declared = outputs(cls)
    if len(declared) == 1 and not (isinstance(result, Mapping) and set(result) == set(declared)):
        result = {cls.name: result}
    elif not isinstance(result, Mapping) or set(result) != set(declared):
        got = sorted(result) if isinstance(result, Mapping) else type(result).__name__
        raise ConfigError(f"{what}: fit() must return a dict of the artifacts "
                          f"{', '.join(declared)}, got {got}")
    *first, last = (t.__name__ for t in ARTIFACT_TYPES)
    types = f"{', '.join(first)} or {last}"
    for name, kind in declared.items():
        artifact = result[name]
        of = "" if len(declared) == 1 else f" for {name!r}"
        if not isinstance(artifact, ARTIFACT_TYPES):
            raise ConfigError(f"{what}: fit() returned {type(artifact).__name__}{of}, not a "
                              f"{types} (botify.training.artifacts)")
        if artifact.kind != kind:
            declaration = "kind" if name == cls.name else f"extra[{name!r}]"
            raise ConfigError(f"{what}: {cls.__name__}.{declaration} is {kind!r} but fit() "
                              f"returned a {artifact.kind} artifact{of}")
    return {name: result[name] for name in declared}


def describe_failure(exc: BaseException) -> str:
    """``Type: message (at file:line)``: where a model's code raised."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    at = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{at}"
