"""``botify analyze --engine spark``: the sessions of an experiment's log cut by Spark.

Spark reads the logs (JSONL files, every process's series as :func:`botify.events.log_files`
finds them, or a Parquet export), cuts them into sessions with the same definitions as
:func:`botify.analysis.sessions.sessionize` (per user and treatment, in timestamp order, ties in
the order of the files; a session runs until a ``last`` event; latencies in ms), and counts the
events and the recommenders per treatment. Only the closed sessions (a few numbers each) come
back to Python, where :func:`botify.analysis.analyze.analyze_sessions` computes the per-user
metrics and every statistic with the very functions of the pandas engine, so the report is the
same (sums of floats in another order: effects equal to about 1e-12).

``master`` is any Spark master URL: ``local[N]`` on this machine (the default, ``local[*]``),
``spark://host:7077`` or ``yarn`` for a cluster (the logs' paths must then be readable by the
executors, e.g. on HDFS or S3). ``SPARK_LOCAL_IP`` defaults to 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from botify import events as ev
from botify.analysis import columns as col
from botify.analysis.analyze import Sessionized
from botify.errors import DataError

DEFAULT_MASTER = "local[*]"
_FILE = "_file"
_ROW = "_row"
_TREATMENT = "_treatment"


@contextmanager
def spark_session(master: str = DEFAULT_MASTER) -> Iterator:
    """A Spark session for the analysis (quiet, no UI), stopped on exit unless it was running
    already (a notebook's, whose master then stays)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    spark = running or (
        SparkSession.builder.master(master).appName("botify-analyze")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        if running is None:
            spark.stop()


def _schema():
    from pyspark.sql import types as T

    return T.StructType([
        T.StructField(ev.MESSAGE, T.StringType()),
        T.StructField(ev.TIMESTAMP, T.LongType()),
        T.StructField(ev.USER, T.LongType()),
        T.StructField(ev.TRACK, T.LongType()),
        T.StructField(ev.TIME, T.DoubleType()),
        T.StructField(ev.LATENCY, T.DoubleType()),
        T.StructField(ev.RECOMMENDER, T.StringType()),
        T.StructField(ev.EXPERIMENTS, T.MapType(T.StringType(), T.StringType())),
        T.StructField(ev.EVENT_ID, T.StringType()),
    ])


def read_events(spark, paths: Iterable[str | os.PathLike]):
    """The events of the logs as a Spark DataFrame, with each event's file rank and row (the
    order of :func:`botify.events.read_events` for events of one millisecond).

    Local paths are expanded as the pandas engine expands them; a URI (``hdfs://...``,
    ``s3a://...``) goes to Spark as it is, its files in rotation order after the local ones.

    Raises:
        DataError: no log files, or lines that are not events (how many, and the first file).
    """
    from pyspark.sql import functions as F

    from botify.export import dataset_files, is_dataset

    paths = [str(p) for p in paths]
    remote = [p for p in paths if "://" in p]
    local = [p for p in paths if p not in remote]
    datasets = [p for p in local if is_dataset(p)]
    files = [str(f) for f in ev.log_files([p for p in local if p not in datasets])]
    parquet = [str(f) for d in datasets for f in dataset_files(d)]
    text_paths = [*files, *(p for p in remote if not p.endswith(".parquet"))]
    frames = []
    if text_paths:
        text = spark.read.text(text_paths).where(F.trim("value") != "")
        parsed = text.select(F.from_json("value", _schema()).alias("e"), F.input_file_name()
                             .alias(_FILE), F.monotonically_increasing_id().alias(_ROW))
        frames.append(parsed.select("e.*", _FILE, _ROW).where(~F.col(_FILE).endswith(".torn")))
    parquet_paths = [*parquet, *(p for p in remote if p.endswith(".parquet"))]
    if parquet_paths:
        raw = spark.read.parquet(*parquet_paths)
        frames.append(raw.select(
            *[F.col(c) for c in (ev.MESSAGE, ev.TIMESTAMP, ev.USER, ev.TRACK, ev.TIME,
                                 ev.LATENCY, ev.RECOMMENDER)],
            F.from_json(ev.EXPERIMENTS, "map<string,string>").alias(ev.EXPERIMENTS),
            F.col(ev.EVENT_ID), F.input_file_name().alias(_FILE),
            F.monotonically_increasing_id().alias(_ROW)))
    if not frames:
        raise DataError("no log files to read")
    events = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])
    names = [row[0] for row in events.select(_FILE).distinct().collect()]
    ranks = spark.createDataFrame(_file_ranks(names, [*files, *parquet]), [_FILE, "_rank"])
    events = events.join(F.broadcast(ranks), _FILE, "left")
    required = [ev.MESSAGE, ev.TIMESTAMP, ev.USER, ev.TRACK, ev.TIME, ev.LATENCY]
    bad = events.where(" OR ".join(f"{c} IS NULL" for c in required))
    malformed = bad.count()
    if malformed:
        first = bad.select(_FILE).first()[0]
        raise DataError(f"{malformed} line(s) of the logs are not events (missing or malformed "
                        f"fields), the first in {first}: `botify analyze` names each line")
    return events.cache()


def _file_ranks(names: list[str], ordered: list[str]) -> list[tuple[str, int]]:
    """Each file Spark read (its URI) with its rank: the local files in ``ordered``'s order (the
    pandas engine's), then the others in rotation order."""
    from urllib.parse import unquote, urlparse

    position = {str(Path(f).resolve()): i for i, f in enumerate(ordered)}
    ranks, others = [], []
    for name in names:
        parsed = urlparse(name)
        local = str(Path(unquote(parsed.path)).resolve()) if parsed.scheme in ("", "file") else None
        if local in position:
            ranks.append((name, position[local]))
        else:
            others.append(name)
    others.sort(key=lambda name: (ev.series_name(Path(name)), ev.rotation_order(Path(name))))
    ranks += [(name, len(ordered) + i) for i, name in enumerate(others)]
    return ranks


def _sessions(events, treatment):
    """Closed sessions of ``events`` per user and ``treatment`` column, and the open counts."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    by_time = Window.partitionBy(ev.USER, treatment).orderBy(ev.TIMESTAMP, "_rank", _ROW)
    is_last = (F.col(ev.MESSAGE) == "last").cast("int")
    numbered = events.withColumn(
        "_session", F.coalesce(F.sum(is_last).over(by_time.rowsBetween(Window.unboundedPreceding,
                                                                         -1)), F.lit(0)))
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
