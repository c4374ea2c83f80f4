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


def _lists(kind, holdout, seed=0):
    train, _ = holdout
    pairs = transitions(train)
    if kind == "i2i_cooc":
        return Cooccurrence().fit(pairs).recommendations()
    if kind.startswith("ranker_"):
        variant = kind.removeprefix("ranker_")
        return (
            ContextualRanker(variant=variant, seed=seed, **SMALL_RANKER)
            .fit(pairs)
            .recommendations()
        )
    if kind == "multidae":
        return MultiDAE(seed=seed, **SMALL_DAE).fit(train).recommendations()
    if kind == "als":
        return ALS(seed=seed, **SMALL_ALS).fit(train).recommendations()
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def scores(holdout):
    names = ("i2i_cooc", "ranker_dot", "ranker_cosine", "multidae", "als")
    results = evaluate(*holdout, {name: _lists(name, holdout) for name in names}, k=10, rng=0)
    return {(r.task, r.model): r for r in results}


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


@pytest.mark.parametrize("kind", ["ranker_dot", "multidae", "als"])
def test_deterministic_for_a_seed(holdout, kind):
    first, second = _lists(kind, holdout, seed=3), _lists(kind, holdout, seed=3)
    assert np.array_equal(first.keys, second.keys)
    assert all(np.array_equal(a, b) for a, b in zip(first.items, second.items, strict=True))
    other = _lists(kind, holdout, seed=4)
    assert any(not np.array_equal(a, b) for a, b in zip(first.items, other.items, strict=True))


def test_ranker_predicts_the_planted_times(world, holdout):
    train, _ = holdout
    ranker = ContextualRanker(**SMALL_RANKER).fit(transitions(train))
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


def test_save_and_load_round_trip(holdout, tmp_path):
    train, _ = holdout
    ranker = ContextualRanker(variant="cosine", **SMALL_RANKER).fit(transitions(train))
    ranker.save(tmp_path / "ranker.npz")
    loaded = ContextualRanker.load(tmp_path / "ranker.npz")
    a, b = ranker.recommendations(k=7), loaded.recommendations(k=7)
    assert all(np.array_equal(x, y) for x, y in zip(a.items, b.items, strict=True))
    dae = MultiDAE(**SMALL_DAE).fit(train)
    dae.save(tmp_path / "dae.npz")
    loaded_dae = MultiDAE.load(tmp_path / "dae.npz")
    a, b = dae.recommendations(k=7), loaded_dae.recommendations(k=7)
    assert all(np.array_equal(x, y) for x, y in zip(a.items, b.items, strict=True))
