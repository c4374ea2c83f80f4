"""Offline against online: the trained arms' offline scores beside their A/B effects.

At each training step of a plan, the day's models are fitted a second time on the older 80% of the
step's logs (a holdout by time, as ``botify evaluate`` does) and scored on the newer 20%. The task
is the same for every model, so that their scores rank in one order: the next-track task (each
test transition heard past :data:`THRESHOLD` whose previous track was heard in training),
answered by a per-track list keyed by the previous track, a per-user list keyed by the listener,
or a ranking (the same top tracks for everyone). The threshold is lower than training's positive
(0.8): on a cold start's logs hardly any transition is heard that far.

An arm is scored by the first artifact its recommender reads (in the order its parameters declare
them) that a training step produced: ``i2i`` by ``i2i_cooc``, ``indexed`` and ``favorites`` by
``multidae``, ``contextual`` and ``hybrid`` by ``ranker``, ``top_pop`` by ``top_tracks``. Arms
that read the same artifact share its score: the offline metric cannot tell them apart, whatever
they do with it online. For an analyzed day, the scores of the latest training step at or before
it are put beside each arm's effect on ``mean_time_per_session`` against the control (0 for the
control itself), with Kendall's tau-b between the two orderings.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from botify.store.artifacts import PER_TRACK, PER_USER, RANKING

if TYPE_CHECKING:
    import pandas as pd

    from botify.training.pipeline import TrainSettings

K = 10
TEST_FRACTION = 0.2
# A test transition is relevant when its track was heard past this share.
THRESHOLD = 0.5
# The offline metrics shown beside the online effect.
SHOWN = ("ndcg", "recall")


def offline_scores(
    events: pd.DataFrame, settings: TrainSettings, k: int = K, test_fraction: float = TEST_FRACTION
) -> dict[str, dict[str, Any]]:
    """Fit ``settings``' models on the older events and score each artifact on the newer ones.

    Returns:
        Artifact name -> ``{"kind", "queries", "ndcg", "recall", "precision", "mrr"}`` on the
        next-track task at ``k`` (embeddings are not scored).
    """
    from botify.training.artifacts import RankedTracks, RecommendationLists
    from botify.training.dataset import session_events, split_by_time
    from botify.training.evaluation import next_queries, score
    from botify.training.pipeline import fit_models

    train, test = split_by_time(session_events(events), test_fraction)
    fitted = fit_models(train, dataclasses.replace(settings, progress=False))
    by_track = next_queries(train, test, THRESHOLD)
    by_user = next_queries(train, test, THRESHOLD, by_user=True)
    catalog_size = int(train["track"].nunique())
    scores: dict[str, dict[str, Any]] = {}
    for name, artifact in fitted.items():
        if isinstance(artifact, RankedTracks):
            keys = np.unique(by_track.keys)
            top = artifact.tracks[:k]
            lists = RecommendationLists(PER_TRACK, keys, [top] * len(keys))
            queries = by_track
        elif isinstance(artifact, RecommendationLists):
            lists = artifact
            queries = by_user if artifact.kind == PER_USER else by_track
        else:
            continue
        result = score(queries, lists, k, catalog_size, name)
        scores[name] = {"kind": artifact.kind, "queries": result.queries,
                        **{m: _rounded(getattr(result, m)) for m in (*SHOWN, "precision", "mrr")}}
    return scores


def scored_artifact(reads: Mapping[str, str], scores: Mapping[str, Any]) -> str | None:
    """The artifact an arm is scored by: the first list it reads that has a score, else a ranking.

    Args:
        reads: the artifacts the arm's recommender reads, name -> kind, in declaration order.
        scores: the offline scores by artifact name.
    """
    lists = [name for name, kind in reads.items() if kind != RANKING and name in scores]
    rankings = [name for name, kind in reads.items() if kind == RANKING and name in scores]
    return (lists or rankings or [None])[0]


def against_online(
    arms: Mapping[str, Mapping[str, Any]],
    reads: Mapping[str, Mapping[str, str]],
    scores: Mapping[str, Mapping[str, Any]],
    control: str,
) -> dict[str, Any]:
    """Each scored arm's offline metrics beside its online effect, and the rank correlation.

    Args:
        arms: the day's arms as the run summary has them (``effect`` in percent vs the control).
        reads: per arm, the artifacts its recommender reads.
        scores: the offline scores of the training step the day's arms were served from.
        control: the day's control arm.

    Returns:
        ``{"rows": [{arm, artifact, ndcg, recall, effect}, ...] (best offline first),
        "kendall_tau", "p_value", "arms"}``; tau and p are None for fewer than three arms or
        constant orderings.
    """
    from scipy.stats import kendalltau

    rows = []
    for arm, row in arms.items():
        artifact = scored_artifact(reads.get(arm, {}), scores)
        effect = 0.0 if arm == control else row.get("effect")
        if artifact is None or effect is None or scores[artifact]["ndcg"] is None:
            continue
        rows.append({"arm": arm, "artifact": artifact,
                     **{m: scores[artifact][m] for m in SHOWN}, "effect": effect})
    rows.sort(key=lambda r: (-r["ndcg"], r["arm"]))
    tau = p_value = None
    offline = [r["ndcg"] for r in rows]
    online = [r["effect"] for r in rows]
    if len(rows) >= 3 and len(set(offline)) > 1 and len(set(online)) > 1:
        result = kendalltau(offline, online)
        tau, p_value = _rounded(result.statistic), _rounded(result.pvalue)
    return {"rows": rows, "kendall_tau": tau, "p_value": p_value, "arms": len(rows)}


def markdown(comparison: Mapping[str, Any], trained_before: int) -> list[str]:
    """The run summary's lines for one day's offline-against-online comparison."""
    lines = [f"Offline against online (the models trained before day {trained_before}, scored "
             f"offline by next-track NDCG@{K} and recall@{K} on the newer {TEST_FRACTION:.0%} of "
             "their logs):", "",
             f"| arm | scored by | NDCG@{K} | recall@{K} | effect on mean session time |",
             "| --- | --- | ---: | ---: | ---: |"]
    for row in comparison["rows"]:
        lines.append(f"| {row['arm']} | {row['artifact']} | {row['ndcg']:.4f} "
                     f"| {row['recall']:.4f} | {row['effect']:+.1f}% |")
    tau = comparison["kendall_tau"]
    lines += ["", f"Kendall's tau between the two orderings: {tau:+.2f} over {comparison['arms']} "
              f"arms (p = {comparison['p_value']:.3g})." if tau is not None else
              f"Kendall's tau: n/a ({comparison['arms']} scored arms, or a constant ordering).", ""]
    return lines


def _rounded(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)
