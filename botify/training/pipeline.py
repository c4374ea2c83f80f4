"""Train every model from event logs and write the artifacts; evaluate them on a holdout by time.

The entry points of ``botify train`` / ``botify evaluate`` and of the training notebook.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from botify.errors import DataError
from botify.training.als import ALS
from botify.training.appeal import appeal_lists
from botify.training.artifacts import (
    RankedTracks,
    RecommendationLists,
    write_json,
    write_jsonl,
)
from botify.training.catalog import TrackCatalog
from botify.training.cooccurrence import Cooccurrence
from botify.training.dataset import POSITIVE_THRESHOLD, session_events, split_by_time, transitions
from botify.training.evaluation import Scores, evaluate, to_json
from botify.training.multidae import MultiDAE
from botify.training.names import ALS as ALS_NAME
from botify.training.names import (
    EVALUATION_FILE,
    I2I_COOC,
    MODELS,
    MULTIDAE,
    RANKER,
    RANKER_VARIANTS,
    TOP_TRACKS,
    TORCH_THREADS,
)
from botify.training.popularity import TopTracks
from botify.training.ranker import ContextualRanker


@dataclass
class TrainSettings:
    """What to train and how.

    Attributes:
        seed: seeds every model.
        models: the artifacts to produce (a subset of ``MODELS``).
        epochs: if set, the epochs of both PyTorch models (ranker and MultiDAE).
        ranker_variant: ``"dot"`` or ``"cosine"``: the ranker behind the ``ranker`` artifact.
        track_k: recommendations per track (``i2i_cooc``, ``ranker``).
        user_k: tracks per user (``multidae``, ``als``).
        threshold: a listen is a positive when ``time > threshold``: the implicit feedback of
            MultiDAE and ALS, and what the evaluation counts as relevant.
        ranker: extra keyword arguments of :class:`ContextualRanker`.
        multidae: extra keyword arguments of :class:`MultiDAE`.
        als: extra keyword arguments of :class:`ALS`.
        threads: PyTorch and ALS threads.
        progress: show progress bars and per-model lines on stderr.
        catalog: the tracks catalog (JSONL) as side features: with it, ``i2i_cooc`` lists every
            catalog track, other artists' tracks of its genre by their genre appeal and the
            pairs observed (``appeal.appeal_lists``), and the ranker adds artist and genre
            embeddings to the tracks' and lists every catalog track, by genre, at most two per
            artist.
    """

    seed: int = 0
    models: Sequence[str] = MODELS
    epochs: int | None = None
    ranker_variant: str = "dot"
    track_k: int = 100
    user_k: int = 50
    threshold: float = POSITIVE_THRESHOLD
    ranker: dict[str, Any] = field(default_factory=dict)
    multidae: dict[str, Any] = field(default_factory=dict)
    als: dict[str, Any] = field(default_factory=dict)
    threads: int = TORCH_THREADS
    progress: bool = True
    catalog: str | os.PathLike | None = None

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise DataError(
                f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}"
            )
        if self.ranker_variant not in RANKER_VARIANTS:
            raise DataError(
                f"unknown ranker variant {self.ranker_variant!r}; choose from {RANKER_VARIANTS}"
            )
        if not 0.0 <= self.threshold < 1.0:
            raise DataError(f"the threshold must be in [0, 1), got {self.threshold}")
        if self.threads < 1:
            raise DataError(f"threads must be at least 1, got {self.threads}")
        if self.epochs is not None and self.epochs < 1:
            raise DataError(f"epochs must be at least 1, got {self.epochs}")

    def _torch_kwargs(self, extra: dict[str, Any]) -> dict[str, Any]:
        kwargs = {"seed": self.seed, "threads": self.threads, "progress": self.progress}
        if self.epochs is not None:
            kwargs["epochs"] = self.epochs
        return {**kwargs, **extra}

    def make_ranker(
        self, variant: str | None = None, catalog: TrackCatalog | None = None
    ) -> ContextualRanker:
        """The ranker as configured (``variant`` overrides the configured one).

        ``catalog`` gives it the side features (artist and genre embeddings).
        """
        kwargs = {"k": self.track_k, "variant": variant or self.ranker_variant, "catalog": catalog}
        return ContextualRanker(**{**kwargs, **self._torch_kwargs(self.ranker)})

    def make_multidae(self) -> MultiDAE:
        """The MultiDAE as configured."""
        kwargs = {"k": self.user_k, "threshold": self.threshold}
        return MultiDAE(**{**kwargs, **self._torch_kwargs(self.multidae)})

    def make_als(self) -> ALS:
        """The ALS model as configured."""
        kwargs = {"k": self.user_k, "seed": self.seed, "progress": self.progress}
        kwargs |= {"threads": self.threads, "threshold": self.threshold}
        return ALS(**{**kwargs, **self.als})


Artifact = RankedTracks | RecommendationLists


def fit_models(
    sessions: pd.DataFrame,
    settings: TrainSettings,
    on_artifact: Callable[[str, Artifact], None] | None = None,
    ranker_variants: Sequence[str] | None = None,
    fitted: dict[str, Any] | None = None,
) -> dict[str, Artifact]:
    """Fit the configured models on sessionized events.

    Args:
        sessions: the output of ``dataset.session_events``.
        settings: what to train.
        on_artifact: called with each artifact as soon as its model is trained.
        ranker_variants: train the ranker in these variants, named ``ranker_<variant>`` (for the
            evaluation); by default only the configured variant, named ``ranker``.
        fitted: if given, receives each fitted model object under its artifact's name (to look at
            loss curves, save a model, ...).

    Returns:
        Artifact name to its ranking or lists.
    """
    artifacts: dict[str, Artifact] = {}
    pairs = transitions(sessions)
    catalog = None if settings.catalog is None else TrackCatalog.read(settings.catalog)

    def done(name: str, artifact: Artifact, model: Any) -> None:
        if fitted is not None:
            fitted[name] = model
        artifacts[name] = artifact
        _say(
            settings,
            f"{name}: {len(artifact)} rows",
        )
        if on_artifact is not None:
            on_artifact(name, artifact)

    for name in settings.models:
        if name == TOP_TRACKS:
            popularity = TopTracks().fit(sessions)
            done(name, popularity.ranking, popularity)
        elif name == I2I_COOC:
            if catalog is None:
                cooc = Cooccurrence(k=settings.track_k).fit(pairs)
                done(name, cooc.recommendations(), cooc)
            else:
                lists = appeal_lists(pairs, catalog, k=settings.track_k, seed=settings.seed)
                done(name, lists, lists)
        elif name == RANKER:
            if pairs.empty:
                raise DataError("the event logs hold no transitions (every session has one event)")
            if ranker_variants is None:
                ranker = settings.make_ranker(catalog=catalog).fit(pairs)
                done(name, ranker.recommendations(), ranker)
            else:
                for variant in ranker_variants:
                    ranker = settings.make_ranker(variant, catalog).fit(pairs)
                    done(f"{name}_{variant}", ranker.recommendations(), ranker)
        elif name == MULTIDAE:
            dae = _positive_or_error(settings.make_multidae().fit, sessions)
            done(name, dae.recommendations(), dae)
        elif name == ALS_NAME:
            als = _positive_or_error(settings.make_als().fit, sessions)
            done(name, als.recommendations(), als)
    return artifacts


def _positive_or_error(fit: Callable[[pd.DataFrame], Any], sessions: pd.DataFrame) -> Any:
    try:
        return fit(sessions)
    except ValueError as exc:
        raise DataError(f"the event logs cannot train this model: {exc}") from None


def train(
    events: pd.DataFrame,
    out: str | os.PathLike,
    settings: TrainSettings,
    fitted: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Train on all the events and write ``OUT/<name>.jsonl`` for each configured model.

    Each file is written atomically as soon as its model is trained. ``fitted`` receives the model
    objects (see :func:`fit_models`).

    Returns:
        Artifact name to the file written.
    """
    out = Path(out)
    written: dict[str, Path] = {}

    def write(name: str, artifact: Artifact) -> None:
        written[name] = write_jsonl(out / f"{name}.jsonl", artifact.records())

    fit_models(session_events(events), settings, on_artifact=write, fitted=fitted)
    return written


def run_evaluation(
    events: pd.DataFrame,
    settings: TrainSettings,
    k: int = 10,
    test_fraction: float = 0.2,
) -> list[Scores]:
    """Fit the configured models on the older sessions and score them on the newer ones.

    The ranker is scored in both variants (``ranker_dot``, ``ranker_cosine``); ``top_tracks`` is
    the ``top_pop`` baseline and not scored twice.
    """
    train_part, test_part = split_by_time(session_events(events), test_fraction)
    _say(
        settings,
        f"holdout by time: {len(train_part)} training events, {len(test_part)} test events",
    )
    models = [m for m in settings.models if m != TOP_TRACKS]
    fit_settings = TrainSettings(**{**settings.__dict__, "models": models})
    fitted = fit_models(train_part, fit_settings, ranker_variants=RANKER_VARIANTS)
    lists = {name: a for name, a in fitted.items() if isinstance(a, RecommendationLists)}
    rng = np.random.default_rng(settings.seed)
    return evaluate(train_part, test_part, lists, k=k, rng=rng, threshold=settings.threshold)


def write_evaluation(results: Sequence[Scores], out: str | os.PathLike) -> Path:
    """Write ``OUT/evaluation.json`` (atomically) and return its path."""
    return write_json(Path(out) / EVALUATION_FILE, to_json(results))


def _say(settings: TrainSettings, message: str) -> None:
    if settings.progress:
        print(message, file=sys.stderr, flush=True)
