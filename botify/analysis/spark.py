"""``botify analyze --engine spark``: the sessions of an experiment's log cut by Spark.

Spark reads the logs (JSONL files, every process's series as :func:`botify.events.log_files`
finds them, or a Parquet export), cuts them into sessions with the same definitions as
:func:`botify.analysis.sessions.sessionize` (per user and treatment, in timestamp order, ties in
the order of the files; a session runs until a ``last`` event; latencies in ms), and counts the
events and the recommenders per treatment. Only the closed sessions (a few numbers each) come
back to Python, where :func:`botify.analysis.analyze.analyze_sessions` computes the per-user
metrics and every statistic with the very functions of the pandas engine, so the report is the
same (sums of floats in another order: effects equal to about 1e-12).

The session and the reader are :mod:`botify.spark`'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from botify import events as ev
from botify.analysis import columns as col
from botify.analysis.analyze import Sessionized
from botify.errors import DataError
from botify.spark import DEFAULT_MASTER, number_sessions, read_events, spark_session

_TREATMENT = "_treatment"
__all__ = ["DEFAULT_MASTER", "all_sessions", "id_audit", "read_events", "sessionize_experiment",
           "spark_session"]


def _sessions(events, treatment):
    """Closed sessions of ``events`` per user and ``treatment`` column, and the open counts."""
    from pyspark.sql import functions as F

    is_last = (F.col(ev.MESSAGE) == "last").cast("int")
    numbered = number_sessions(events, ev.USER, treatment)
    sessions = numbered.groupBy(ev.USER, treatment, "_session").agg(
        F.min(ev.TIMESTAMP).alias(col.SESSION_START),
        F.count(F.lit(1)).alias(col.TRACKS),
        F.sum(ev.TIME).alias(col.TIME),
        F.sum(F.col(ev.LATENCY) * 1000).alias(col.LATENCY),
        F.max(is_last).alias("_closed"),
    ).cache()
    open_ = sessions.where("_closed = 0").agg(F.count(F.lit(1)), F.sum(col.TRACKS)).first()
    closed = sessions.where("_closed = 1").select(
        F.col(ev.USER).alias(col.USER), F.col(treatment).alias(col.TREATMENT),
        col.SESSION_START, col.TRACKS, col.TIME, col.LATENCY,
    ).toArrow()  # Arrow, not toPandas: PySpark's pandas conversion predates pandas 3
    table = pd.DataFrame({
        col.USER: closed[col.USER].to_numpy().astype(np.int64),
        col.TREATMENT: np.asarray(closed[col.TREATMENT].to_pylist(), dtype=object),
        col.SESSION_START: closed[col.SESSION_START].to_numpy().astype(np.int64),
        col.TRACKS: closed[col.TRACKS].to_numpy().astype(np.int64),
        col.TIME: closed[col.TIME].to_numpy().astype(np.float64),
        col.LATENCY: closed[col.LATENCY].to_numpy().astype(np.float64),
    }).sort_values([col.USER, col.TREATMENT, col.SESSION_START], kind="stable",
                   ignore_index=True)
    sessions.unpersist()
    return table, int(open_[0] or 0), int(open_[1] or 0)


def sessionize_experiment(events, experiment: str) -> Sessionized:
    """:func:`botify.analysis.analyze.sessionize_experiment` in Spark (no looks).

    Raises:
        DataError: no event carries the experiment.
    """
    from pyspark.sql import functions as F

    tagged = events.withColumn(_TREATMENT, F.col(ev.EXPERIMENTS).getItem(experiment))
    carried = tagged.where(F.col(_TREATMENT).isNotNull())
    counts = {r[0]: int(r[1]) for r in carried.groupBy(_TREATMENT).count().collect()}
    if not counts:
        names = sorted({k for r in events.select(F.explode(F.map_keys(ev.EXPERIMENTS)))
                       .distinct().limit(1000).collect() for k in r})
        raise DataError(f"no event carries the experiment {experiment!r} (experiments in the "
                        f"logs: {', '.join(names) or 'none'})")
    ignored = events.count() - sum(counts.values())
    found: dict[str, list[tuple[int, str]]] = {}
    for treatment, recommender, n in carried.where(F.col(ev.RECOMMENDER).isNotNull()).groupBy(
            _TREATMENT, ev.RECOMMENDER).count().collect():
        found.setdefault(treatment, []).append((-int(n), recommender))
    served = {t: "+".join(name for _, name in sorted(seen)) for t, seen in found.items()}
    table, open_sessions, open_events = _sessions(carried, _TREATMENT)
    return Sessionized(table, open_sessions, open_events, counts, served, ignored=int(ignored))


def all_sessions(events) -> pd.DataFrame:
    """The closed sessions of a whole log, one treatment ``all`` (an earlier period, for CUPED)."""
    from pyspark.sql import functions as F

    table, _, _ = _sessions(events.withColumn(_TREATMENT, F.lit("all")), _TREATMENT)
    return table


def id_audit(events) -> dict[str, int]:
    """:func:`botify.events.audit` of the events' ids, computed by Spark."""
    from pyspark.sql import functions as F

    ids = events.select(ev.EVENT_ID)
    without = ids.where(F.col(ev.EVENT_ID).isNull()).count()
    parts = ids.where(F.col(ev.EVENT_ID).isNotNull()).select(
        F.regexp_extract(ev.EVENT_ID, r"^(.+):(\d+)$", 1).alias("source"),
        F.regexp_extract(ev.EVENT_ID, r"^(.+):(\d+)$", 2).cast("long").alias("seq"))
    if parts.where("source = '' OR seq IS NULL").count():
        raise DataError("an event id is not <source>:<sequence number>")
    per_source = parts.groupBy("source").agg(
        F.count(F.lit(1)).alias("n"), F.countDistinct("seq").alias("distinct"),
        F.min("seq").alias("low"), F.max("seq").alias("high")).collect()
    return {
        "events": int(sum(r["n"] for r in per_source) + without),
        "sources": len(per_source),
        "duplicates": int(sum(r["n"] - r["distinct"] for r in per_source)),
        "gaps": int(sum(r["high"] - r["low"] + 1 - r["distinct"] for r in per_source)),
        "without_id": int(without),
    }
