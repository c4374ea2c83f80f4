"""Offline against online: which artifact scores an arm, the comparison and its rank correlation,
and the offline scores of models fitted on a holdout by time."""

from __future__ import annotations

import pytest

from botify.experiment.offline import against_online, markdown, offline_scores, scored_artifact
from botify.training.pipeline import TrainSettings
from botify.training.synthetic import generate_events, planted_world

SCORES = {
    "i2i_cooc": {"ndcg": 0.30, "recall": 0.5},
    "ranker": {"ndcg": 0.20, "recall": 0.4},
    "multidae": {"ndcg": 0.10, "recall": 0.2},
    "top_tracks": {"ndcg": 0.05, "recall": 0.1},
}
READS = {
    "i2i": {"i2i_cooc": "per_track"},
    "contextual": {"ranker": "per_track"},
    "indexed": {"multidae": "per_user", "top_tracks": "ranking"},
    "top_pop": {"top_tracks": "ranking"},
    "sticky_artist": {},
    "custom": {"from_a_file": "per_track"},
}


def test_an_arm_is_scored_by_its_first_trained_list_then_a_ranking():
    assert scored_artifact(READS["indexed"], SCORES) == "multidae"
    assert scored_artifact({"top_tracks": "ranking", "ranker": "per_track"}, SCORES) == "ranker"
    assert scored_artifact(READS["top_pop"], SCORES) == "top_tracks"
    assert scored_artifact(READS["sticky_artist"], SCORES) is None
    assert scored_artifact(READS["custom"], SCORES) is None  # loaded from a file, not trained


def _arms(effects):
    return {arm: {"effect": effect} for arm, effect in effects.items()}


def test_orderings_that_agree_and_disagree():
    agree = _arms({"sticky_artist": None, "i2i": 40.0, "contextual": 20.0, "indexed": 5.0,
                   "top_pop": -10.0})
    result = against_online(agree, READS, SCORES, control="sticky_artist")
    assert [r["arm"] for r in result["rows"]] == ["i2i", "contextual", "indexed", "top_pop"]
    assert result["kendall_tau"] == pytest.approx(1.0) and result["arms"] == 4
    reverse = _arms({"i2i": -40.0, "contextual": -20.0, "indexed": 5.0, "top_pop": 10.0})
    result = against_online(reverse, READS, SCORES, control="sticky_artist")
    assert result["kendall_tau"] == pytest.approx(-1.0)


def test_the_control_counts_as_no_effect_and_ties_are_kept():
    # top_pop is the control (effect 0); i2i and a second arm on i2i_cooc share a score
    reads = {**READS, "i2i_again": {"i2i_cooc": "per_track"}}
    arms = _arms({"top_pop": None, "i2i": 30.0, "i2i_again": -5.0, "contextual": 10.0})
    result = against_online(arms, reads, SCORES, control="top_pop")
    rows = {r["arm"]: r for r in result["rows"]}
    assert rows["top_pop"]["effect"] == 0.0
    assert rows["i2i"]["ndcg"] == rows["i2i_again"]["ndcg"]
    # tau-b by hand: offline 0.3, 0.3, 0.2, 0.05 against online 30, -5, 10, 0
    # 6 pairs: (i2i, i2i_again) tied offline; concordant: i2i with contextual and top_pop,
    # contextual with top_pop; discordant: i2i_again with contextual and top_pop.
    # tau-b = (3 - 2) / sqrt((6 - 1) * (6 - 0))
    assert result["kendall_tau"] == pytest.approx(1 / (5 * 6) ** 0.5, abs=1e-6)
    assert "| i2i_again | i2i_cooc | 0.3000 |" in "\n".join(markdown(result, trained_before=2))


def test_too_few_arms_have_no_correlation():
    result = against_online(_arms({"sticky_artist": None, "i2i": 3.0}), READS, SCORES,
                            control="sticky_artist")
    assert result["kendall_tau"] is None and result["arms"] == 1
    assert "Kendall's tau: n/a" in "\n".join(markdown(result, trained_before=2))


def test_offline_scores_rank_a_learned_model_above_popularity():
    events = generate_events(planted_world(300, 300, 6, rng=0), 30_000, rng=1)
    settings = TrainSettings(models=["top_tracks", "i2i_cooc"], progress=False)
    scores = offline_scores(events, settings)
    assert set(scores) == {"top_tracks", "i2i_cooc"}
    assert scores["i2i_cooc"]["queries"] == scores["top_tracks"]["queries"] > 100
    assert scores["i2i_cooc"]["ndcg"] > 2 * scores["top_tracks"]["ndcg"] > 0
