"""Train the models from event logs and write the artifacts; evaluate them on a holdout by time.

The entry points of ``botify train`` / ``botify evaluate`` and of the training notebook. The models
are the registry's (:data:`botify.registry.MODELS`, interface in :mod:`botify.training.model`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from botify.errors import BotifyError, ConfigError, DataError
from botify.registry import MODELS
from botify.store.artifacts import RANKING
from botify.training.artifacts import (
    ItemEmbeddings,
    RankedTracks,
    RecommendationLists,
    write_artifact,
    write_json,
)
from botify.training.catalog import TrackCatalog
from botify.training.dataset import POSITIVE_THRESHOLD, session_events, split_by_time
from botify.training.evaluation import Scores, evaluate, to_json
from botify.training.model import (
    CATALOG,
    TrainData,
    check_artifacts,
    default_models,
    describe_failure,
    outputs,
)
from botify.training.names import EVALUATION_FILE, TORCH_THREADS


@dataclass
class TrainSettings:
    """What to train and how.

    Attributes:
        seed: seeds every model.
        models: the models to train: registered names or import paths ``module:Class`` (by
            default the built-ins whose ``default`` is true: ``model.default_models()``).
        epochs: if set, the epochs of the PyTorch models (ranker and MultiDAE).
        track_k: recommendations per track (``i2i_cooc``, ``ranker``).
        user_k: tracks per user (``multidae``, ``als``, ``liked``).
        threshold: a listen is a positive when ``time > threshold``: the implicit feedback of
            MultiDAE and ALS, the anchors of ``i2i_cooc``'s lists with the catalog, and what the
            evaluation counts as relevant.
        ranker: extra keyword arguments of :class:`~botify.training.ranker.ContextualRanker`
            (both variants).
        multidae: extra keyword arguments of :class:`~botify.training.multidae.MultiDAE`.
        als: extra keyword arguments of :class:`~botify.training.als.ALS`.
        user_cf: extra keyword arguments of :class:`~botify.training.models.user_cf.UserCF`.
        sasrec: extra keyword arguments of the SASRec model (``botify.training.sasrec``).
        hybrid_mf: extra keyword arguments of the factorization with side features
            (``botify.training.hybrid_mf``).
        threads: PyTorch and ALS threads.
        progress: show progress bars and per-model lines on stderr.
        catalog: the tracks catalog (JSONL) as side features: with it, ``i2i_cooc`` lists every
            catalog track, other artists' tracks of its genre by the time expected after its
            artist was heard through (``appeal.appeal_lists``), and the ranker adds artist and genre
            embeddings to the tracks' and lists every catalog track, by genre, at most two per
            artist. A model that ``needs`` it cannot run without it.
        model_classes: artifact name -> model class, resolved from ``models``.
    """

    seed: int = 0
    models: Sequence[str] = field(default_factory=default_models)
    epochs: int | None = None
    track_k: int = 100
    user_k: int = 50
    threshold: float = POSITIVE_THRESHOLD
    ranker: dict[str, Any] = field(default_factory=dict)
    multidae: dict[str, Any] = field(default_factory=dict)
    als: dict[str, Any] = field(default_factory=dict)
    user_cf: dict[str, Any] = field(default_factory=dict)
    sasrec: dict[str, Any] = field(default_factory=dict)
    hybrid_mf: dict[str, Any] = field(default_factory=dict)
    threads: int = TORCH_THREADS
    progress: bool = True
    catalog: str | os.PathLike | None = None
    model_classes: dict[str, type] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.models, str):
            self.models = [self.models]
        self.model_classes = {}
        specs: dict[str, str] = {}
        for spec in self.models:
            cls = MODELS.get(spec)
            for name in outputs(cls):
                if name in specs:
                    raise ConfigError(
                        f"models {specs[name]!r} and {spec!r} both write the artifact {name!r}"
                    )
                specs[name] = spec
            if CATALOG in getattr(cls, "needs", ()) and self.catalog is None:
                raise ConfigError(f"model {spec!r} needs the tracks catalog (--catalog FILE)")
            self.model_classes[cls.name] = cls
        if not 0.0 <= self.threshold < 1.0:
            raise DataError(f"the threshold must be in [0, 1), got {self.threshold}")
        if self.threads < 1:
            raise DataError(f"threads must be at least 1, got {self.threads}")
        if self.epochs is not None and self.epochs < 1:
            raise DataError(f"epochs must be at least 1, got {self.epochs}")

    def torch_kwargs(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of a PyTorch model: seed, threads, progress, epochs if set, then
        ``extra``."""
        kwargs = {"seed": self.seed, "threads": self.threads, "progress": self.progress}
        if self.epochs is not None:
            kwargs["epochs"] = self.epochs
        return {**kwargs, **extra}


Artifact = RankedTracks | RecommendationLists | ItemEmbeddings


def fit_model(
    cls: type, settings: TrainSettings, data: TrainData
) -> tuple[Any, dict[str, Artifact]]:
    """Build ``cls(settings)`` and fit it on ``data``.

    Returns:
        The fitted model and its artifacts, name -> artifact (its own first, then its ``extra``).

    Raises:
        ConfigError: the model needs the catalog and ``data`` has none, or its artifact is not of
            its declared kind.
        DataError: the data cannot train it.
    """
    what = f"model {cls.name!r}"
    if CATALOG in getattr(cls, "needs", ()) and data.catalog is None:
        raise ConfigError(f"{what} needs the tracks catalog (--catalog FILE)")
    try:
        model = cls(settings)
        result = model.fit(data)
    except BotifyError:
        raise
    except Exception as exc:  # a model's own failure: one line saying where, not a traceback
        raise DataError(f"{what} ({cls.__module__}.{cls.__qualname__}) failed: "
                        f"{describe_failure(exc)}") from None
    return model, check_artifacts(cls, result, what)


def fit_models(
    sessions: pd.DataFrame,
    settings: TrainSettings,
    on_artifact: Callable[[str, Artifact], None] | None = None,
    fitted: dict[str, Any] | None = None,
) -> dict[str, Artifact]:
    """Fit the configured models on sessionized events, in order.

    Args:
        sessions: the output of ``dataset.session_events``.
        settings: what to train.
        on_artifact: called with each artifact as soon as its model is trained.
        fitted: if given, receives each fitted model under its own artifact's name (the built-ins
            keep their algorithm in ``estimator``: loss curves, ``save``, ...).

    Returns:
        Artifact name to its ranking, lists or embeddings (a model with ``extra`` writes several).
    """
    catalog = None if settings.catalog is None else TrackCatalog.read(settings.catalog)
    data = TrainData(sessions, catalog)
    artifacts: dict[str, Artifact] = {}
    for name, cls in settings.model_classes.items():
        model, written = fit_model(cls, settings, data)
        if fitted is not None:
            fitted[name] = model
        for artifact_name, artifact in written.items():
            artifacts[artifact_name] = artifact
            _say(settings, f"{artifact_name}: {len(artifact)} rows")
            if on_artifact is not None:
                on_artifact(artifact_name, artifact)
    return artifacts


def train(
    events: pd.DataFrame,
    out: str | os.PathLike,
    settings: TrainSettings,
    fitted: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Train on all the events and write each configured model's artifacts under ``out``.

    Each file is written atomically as soon as its model is trained. ``fitted`` receives the
    fitted models (see :func:`fit_models`).

    Returns:
        Artifact name to the file written.
    """
    written: dict[str, Path] = {}

    def write(name: str, artifact: Artifact) -> None:
        written[name] = write_artifact(out, name, artifact)

    fit_models(session_events(events), settings, on_artifact=write, fitted=fitted)
    return written


def run_evaluation(
    events: pd.DataFrame,
    settings: TrainSettings,
    k: int = 10,
    test_fraction: float = 0.2,
) -> list[Scores]:
    """Fit the configured models on the older sessions and score them on the newer ones.

    A ranking (``top_tracks``) is the ``top_pop`` baseline: it is not fitted, nor scored twice.
    With ``settings.catalog``, the scores include the artist and genre diversity of the lists.
    """
    train_part, test_part = split_by_time(session_events(events), test_fraction)
    _say(
        settings,
        f"holdout by time: {len(train_part)} training events, {len(test_part)} test events",
    )
    lists = [spec for spec in settings.models if MODELS.get(spec).kind != RANKING]
    fitted = fit_models(train_part, dataclasses.replace(settings, models=lists))
    rng = np.random.default_rng(settings.seed)
    scored = {name: a for name, a in fitted.items() if isinstance(a, RecommendationLists)}
    catalog = None if settings.catalog is None else TrackCatalog.read(settings.catalog)
    return evaluate(
        train_part,
        test_part,
        scored,
        k=k,
        rng=rng,
        threshold=settings.threshold,
        catalog=catalog,
    )


def write_evaluation(results: Sequence[Scores], out: str | os.PathLike) -> Path:
    """Write ``OUT/evaluation.json`` (atomically) and return its path."""
    return write_json(Path(out) / EVALUATION_FILE, to_json(results))


def _say(settings: TrainSettings, message: str) -> None:
    if settings.progress:
        print(message, file=sys.stderr, flush=True)
