"""Every registered model passes the contract; each built-in, trained on the older sessions of
planted logs, beats random on the newer ones."""

from __future__ import annotations

import numpy as np
import pytest

from botify.errors import ConfigError
from botify.registry import MODELS
from botify.store.artifacts import PER_TRACK, PER_USER, RANKING
from botify.training.check import check_model
from botify.training.evaluation import NEXT_TASK, USER_TASK, evaluate
from botify.training.model import TrainData, default_models
from botify.training.pipeline import TrainSettings, fit_model

SMALL = {
    "ranker": {"dim": 16, "epochs": 5, "batch_size": 512},
    "multidae": {"hidden": 64, "latent": 16, "epochs": 10, "batch_size": 32},
    "als": {"factors": 16, "iterations": 8},
    "sasrec": {"dim": 32, "blocks": 1, "heads": 1, "max_len": 20, "epochs": 10, "batch_size": 32},
    "hybrid_mf": {"dim": 16, "epochs": 10, "batch_size": 512},
    "progress": False,
}
BUILTINS = sorted(MODELS.builtins)
LISTS = [name for name in BUILTINS if MODELS.builtins[name].kind != RANKING]
# Per-user models that never list a track the user already heard.
EXCLUDES_HEARD = {"user_cf", "hybrid_mf"}
ITEM_TO_ITEM = [name for name in BUILTINS if MODELS.builtins[name].kind == PER_TRACK]


@pytest.mark.parametrize("name", MODELS.names())
def test_the_contract(name, tmp_path):
    passed = check_model(name, tmp_path)
    assert [p.check for p in passed] == [
        "resolve",
        *(f"{step} {where}" for where in ("without the catalog", "with the catalog")
          for step in ("fit", "write", "read")),
    ]
    artifact = MODELS.get(name).name
    assert (tmp_path / "with-the-catalog" / f"{artifact}.jsonl").exists()


def test_the_defaults_are_the_builtins_but_the_slow_or_comparative_ones():
    # the slower, comparative or special-purpose models are trained when named (--models)
    named = {"ranker_cosine", "sasrec", "hybrid_mf", "liked"}
    assert set(default_models()) == set(BUILTINS) - named
    assert TrainSettings().models == default_models()
    assert {"top_tracks", "i2i_cooc", "ranker", "multidae", "als"} <= set(BUILTINS)


def test_an_unknown_model_is_named_with_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown model 'nope' \(known: .*ranker_cosine"):
        TrainSettings(models=["i2i_cooc", "nope"])


def test_two_models_cannot_write_one_artifact():
    path = "botify.training.models.ranker:RankerModel"
    with pytest.raises(ConfigError, match="'ranker' and .* both write the artifact 'ranker'"):
        TrainSettings(models=["ranker", path])


def _fit(name, holdout, seed=0):
    """(model, artifact): the model fitted on the training part."""
    settings = TrainSettings(models=[name], seed=seed, **SMALL)
    model, artifacts = fit_model(MODELS.get(name), settings, TrainData(holdout[0]))
    return model, artifacts[name]


@pytest.fixture(scope="module")
def fitted(holdout):
    return {name: _fit(name, holdout) for name in BUILTINS}


@pytest.fixture(scope="module")
def scores(holdout, fitted):
    lists = {name: fitted[name][1] for name in LISTS}
    return {(r.task, r.model): r for r in evaluate(*holdout, lists, k=10, rng=0)}


@pytest.mark.parametrize("name", LISTS)
def test_beats_random_by_a_clear_margin(scores, name):
    task = USER_TASK if MODELS.get(name).kind == PER_USER else NEXT_TASK
    mine, random = scores[(task, name)], scores[(task, "random")]
    assert mine.queries == random.queries > 100
    # user_cf leaves out the tracks a user heard, which the user task's test positives (repeat
    # listens) count against it: three times random, without the absolute margin.
    margin = 0.0 if name in EXCLUDES_HEARD else 0.05
    for metric in ("precision", "recall", "ndcg", "mrr"):
        assert getattr(mine, metric) > 3 * getattr(random, metric) + margin, metric


@pytest.mark.parametrize("name", sorted(EXCLUDES_HEARD))
def test_models_that_exclude_heard_tracks_still_rank_better_than_popularity(scores, name):
    mine, top_pop = scores[(USER_TASK, name)], scores[(USER_TASK, "top_pop")]
    for metric in ("precision", "ndcg", "mrr"):
        assert getattr(mine, metric) > getattr(top_pop, metric) + 0.02, metric


@pytest.mark.parametrize("name", ITEM_TO_ITEM)
def test_item_to_item_models_also_beat_popularity(scores, name):
    assert scores[(NEXT_TASK, name)].ndcg > 2 * scores[(NEXT_TASK, "top_pop")].ndcg


def _records(artifact):
    return list(artifact.records())


@pytest.mark.parametrize("name", BUILTINS)
def test_deterministic_for_a_seed(holdout, fitted, name):
    assert _records(fitted[name][1]) == _records(_fit(name, holdout, seed=0)[1])


def test_the_seed_matters(holdout, fitted):
    assert _records(fitted["ranker"][1]) != _records(_fit("ranker", holdout, seed=1)[1])


def test_ranker_predicts_the_planted_times(world, fitted):
    ranker = fitted["ranker"][0].estimator
    assert ranker.variant == "dot" and fitted["ranker_cosine"][0].estimator.variant == "cosine"
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


@pytest.mark.parametrize("name", ["ranker_cosine", "multidae"])
def test_save_and_load_round_trip(fitted, tmp_path, name):
    model = fitted[name][0].estimator
    model.save(tmp_path / "model.npz")
    loaded = type(model).load(tmp_path / "model.npz")
    assert _records(model.recommendations(k=7)) == _records(loaded.recommendations(k=7))
