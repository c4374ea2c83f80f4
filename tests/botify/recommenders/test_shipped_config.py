"""The repository's config.json: experiment ALL routes one treatment to each built-in type."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from botify.config import load_config
from botify.recommenders.base import RecommenderContext
from botify.recommenders.registry import build_recommenders, configured
from botify.registry import RECOMMENDER_TYPES
from botify.store.artifacts import load_configured_artifacts
from tests.botify.recommenders.conftest import TRACKS

SHIPPED = Path(__file__).resolve().parents[3] / "config.json"
TYPES = set(RECOMMENDER_TYPES.builtins)


def test_all_routes_every_recommender_type():
    config = load_config(SHIPPED)
    assert config["ACTIVE_EXPERIMENT"] == "ALL"
    names = config["EXPERIMENTS"]["ALL"]
    assert len(names) == len(set(names)) == len(TYPES)
    assert {configured(config)[n]["type"] for n in names} == TYPES


def test_without_artifact_files_every_recommender_falls_back(redis_client, catalog, tmp_path):
    config = load_config(SHIPPED)
    # The shipped ARTIFACTS point at files `botify train` writes; before that they are missing.
    missing = {name: str(tmp_path / Path(file).name) for name, file in config["ARTIFACTS"].items()}
    assert load_configured_artifacts(redis_client, missing) == []
    context = RecommenderContext(redis_client, catalog, config, np.random.default_rng(0))
    recommenders = build_recommenders(config, context)
    for name in config["EXPERIMENTS"]["ALL"]:
        prev, time = 5, 1.0
        for _ in range(5):
            prev = recommenders[name].recommend_next(1, prev, time)
            assert prev in TRACKS
            time = 0.5
