"""Each model, trained on the older sessions of planted logs, beats random on the newer ones."""

from __future__ import annotations

import numpy as np
import pytest

from botify.training.als import ALS
from botify.training.cooccurrence import Cooccurrence
from botify.training.dataset import transitions
from botify.training.evaluation import evaluate
from botify.training.multidae import MultiDAE
from botify.training.ranker import ContextualRanker

SMALL_RANKER = {"dim": 16, "epochs": 5, "batch_size": 512, "progress": False}
SMALL_DAE = {"hidden": 64, "latent": 16, "epochs": 10, "batch_size": 32, "progress": False}
SMALL_ALS = {"factors": 16, "iterations": 8, "progress": False}


NAMES = ("i2i_cooc", "ranker_dot", "ranker_cosine", "multidae", "als")


def _fit(kind, holdout, seed=0):
    train, _ = holdout
    if kind == "i2i_cooc":
        return Cooccurrence().fit(transitions(train))
    if kind.startswith("ranker_"):
        variant = kind.removeprefix("ranker_")
        return ContextualRanker(variant=variant, seed=seed, **SMALL_RANKER).fit(transitions(train))
    if kind == "multidae":
        return MultiDAE(seed=seed, **SMALL_DAE).fit(train)
    if kind == "als":
        return ALS(seed=seed, **SMALL_ALS).fit(train)
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def fitted(holdout):
    return {name: _fit(name, holdout) for name in NAMES}


@pytest.fixture(scope="module")
def scores(holdout, fitted):
    lists = {name: model.recommendations() for name, model in fitted.items()}
    return {(r.task, r.model): r for r in evaluate(*holdout, lists, k=10, rng=0)}


@pytest.mark.parametrize(
    ("task", "model"),
    [
        ("next", "i2i_cooc"),
        ("next", "ranker_dot"),
        ("next", "ranker_cosine"),
        ("user", "multidae"),
        ("user", "als"),
    ],
    ids=["cooc", "ranker-dot", "ranker-cosine", "multidae", "als"],
)
def test_beats_random_by_a_clear_margin(scores, task, model):
    mine, random = scores[(task, model)], scores[(task, "random")]
    assert mine.queries == random.queries > 100
    for metric in ("precision", "recall", "ndcg", "mrr"):
        assert getattr(mine, metric) > 3 * getattr(random, metric) + 0.05, metric


def test_item_to_item_models_also_beat_popularity(scores):
    for model in ("i2i_cooc", "ranker_dot", "ranker_cosine"):
        assert scores[("next", model)].ndcg > 2 * scores[("next", "top_pop")].ndcg


def _same(first, second):
    return np.array_equal(first.keys, second.keys) and all(
        np.array_equal(a, b) for a, b in zip(first.items, second.items, strict=True)
    )


@pytest.mark.parametrize("kind", ["ranker_dot", "multidae", "als"])
def test_deterministic_for_a_seed(holdout, fitted, kind):
    assert _same(fitted[kind].recommendations(), _fit(kind, holdout, seed=0).recommendations())


def test_the_seed_matters(holdout, fitted):
    other = _fit("ranker_dot", holdout, seed=1).recommendations()
    assert not _same(fitted["ranker_dot"].recommendations(), other)


def test_ranker_predicts_the_planted_times(world, fitted):
    ranker = fitted["ranker_dot"]
    assert ranker.losses[-1] < ranker.losses[0]
    tracks = np.arange(world.n_tracks)
    good = ranker.predict(tracks, world.successors[:, 0])
    rng = np.random.default_rng(0)
    other = ranker.predict(tracks, rng.integers(0, world.n_tracks, world.n_tracks))
    assert np.nanmean(good) > np.nanmean(other) + 0.3
    lists = ranker.recommendations(k=5)
    for track, items, weights in zip(lists.keys, lists.items, lists.weights, strict=True):
        assert track not in items
        assert np.all(np.diff(weights) <= 1e-9)
        assert np.allclose(weights, ranker.predict(np.full(len(items), track), items), atol=1e-5)


@pytest.mark.parametrize("kind", ["ranker_cosine", "multidae"])
def test_save_and_load_round_trip(fitted, tmp_path, kind):
    model = fitted[kind]
    model.save(tmp_path / "model.npz")
    loaded = type(model).load(tmp_path / "model.npz")
    assert _same(model.recommendations(k=7), loaded.recommendations(k=7))
