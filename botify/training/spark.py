"""``botify train --engine spark``: the models that aggregate the whole log, trained by Spark.

Spark reads the logs (:func:`botify.spark.read_events`), cuts each user's events into sessions as
:func:`botify.training.dataset.session_events` does (in timestamp order, ties in the order of the
files; a session ends with its ``last`` event), and computes:

- ``top_tracks``: the total time listened per track, ranked as :class:`popularity.TopTracks`
  ranks it (descending, ties by ascending id);
- ``i2i_cooc``: for each track, its ``k`` next tracks with the most time listened right after it
  within sessions, ties by how often served, then ascending id (:class:`cooccurrence.Cooccurrence`
  without the catalog);
- ``als``: Spark MLlib's implicit ALS (Hu, Koren and Volinsky's confidence ``1 + alpha * count``)
  on the listens past the threshold, each user's ``k`` best tracks.

Only the results (a list per key) come back to Python, and are written in the artifact formats
``botify load recs`` reads, so the service serves them like the pandas engine's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from botify import events as ev
from botify.errors import ConfigError
from botify.spark import RANK, ROW, number_sessions, read_events, spark_session
from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import RankedTracks, RecommendationLists, write_artifact
from botify.training.dataset import POSITIVE_THRESHOLD
from botify.training.popularity import TopTracks

MODELS = ("top_tracks", "i2i_cooc", "als")


def _transitions(events):
    """Consecutive ``(prev, next, time)`` pairs within each user's sessions."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    in_session = Window.partitionBy(ev.USER, "_session").orderBy(ev.TIMESTAMP, RANK, ROW)
    return number_sessions(events, ev.USER).select(F.lag(ev.TRACK).over(in_session).alias("prev"),
                           F.col(ev.TRACK).alias("next"), F.col(ev.TIME)).where("prev IS NOT NULL")


def top_tracks(events) -> RankedTracks:
    """The ``top_tracks`` ranking."""
    from pyspark.sql import functions as F

    totals = events.groupBy(ev.TRACK).agg(F.sum(ev.TIME).alias("score")).toArrow()
    return TopTracks.from_totals(totals[ev.TRACK].to_numpy().astype(np.int64),
                                 totals["score"].to_numpy().astype(np.float64)).ranking


def cooccurrence(events, k: int = 100) -> RecommendationLists:
    """The ``i2i_cooc`` lists (without the catalog's appeal)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pairs = _transitions(events).where("prev != next").groupBy("prev", "next").agg(
        F.sum(ev.TIME).alias("sum"), F.count(F.lit(1)).alias("size")).where("sum > 0")
    best = Window.partitionBy("prev").orderBy(F.desc("sum"), F.desc("size"), F.asc("next"))
    top = pairs.withColumn("_rank", F.row_number().over(best)).where(f"_rank <= {k}").toArrow()
    prev = top["prev"].to_numpy().astype(np.int64)
    order = np.lexsort((top["_rank"].to_numpy(), prev))
    prev, nxt = prev[order], top["next"].to_numpy().astype(np.int64)[order]
    keys, starts = np.unique(prev, return_index=True)
    return RecommendationLists(PER_TRACK, keys, np.split(nxt, starts[1:]) if len(keys) else [])


def als(events, *, k: int = 50, factors: int = 64, iterations: int = 10,
        regularization: float = 0.05, alpha: float = 10.0,
        threshold: float = POSITIVE_THRESHOLD, seed: int = 0) -> RecommendationLists:
    """The ``als`` lists, by MLlib's implicit ALS."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    counts = events.where(F.col(ev.TIME) > threshold).groupBy(ev.USER, ev.TRACK).agg(
        F.count(F.lit(1)).cast("float").alias("count"))
    model = ALS(rank=factors, maxIter=iterations, regParam=regularization, alpha=alpha,
                implicitPrefs=True, userCol=ev.USER, itemCol=ev.TRACK, ratingCol="count",
                seed=seed, coldStartStrategy="drop").fit(counts)
    lists = model.recommendForAllUsers(k).select(
        ev.USER, F.col("recommendations." + ev.TRACK).alias("tracks")).toArrow()
    users = lists[ev.USER].to_numpy().astype(np.int64)
    order = np.argsort(users, kind="stable")
    tracks = lists["tracks"].to_pylist()
    return RecommendationLists(PER_USER, users[order],
                               [np.asarray(tracks[i], dtype=np.int64) for i in order])


def train_on_spark(
    paths: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    models: Sequence[str] = MODELS,
    *,
    master: str | None = None,
    seed: int = 0,
    threshold: float = POSITIVE_THRESHOLD,
    say: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Train ``models`` (of :data:`MODELS`) on the logs by Spark; the artifacts written.

    Raises:
        ConfigError: a model Spark does not train.
        DataError: no logs, or lines that are not events.
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ConfigError(f"--engine spark trains {', '.join(MODELS)}; not {', '.join(unknown)}")
    fits = {"top_tracks": top_tracks, "i2i_cooc": cooccurrence,
            "als": lambda events: als(events, threshold=threshold, seed=seed)}
    written = {}
    with spark_session(master or "local[*]") as spark:
        events = read_events(spark, paths)
        for name in models:
            artifact = fits[name](events)
            written[name] = write_artifact(out, name, artifact)
            say(f"{name}: {len(artifact)} rows")
    return written
