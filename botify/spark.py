"""Spark for botify's engines: a session, and the event logs read as a Spark DataFrame.

``master`` is any Spark master URL: ``local[N]`` on this machine (the default, ``local[*]``),
``spark://host:7077`` or ``yarn`` for a cluster (the logs' paths must then be readable by the
executors, e.g. on HDFS or S3). ``SPARK_LOCAL_IP`` defaults to 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from botify import events as ev
from botify.errors import DataError

DEFAULT_MASTER = "local[*]"
FILE = "_file"
ROW = "_row"
RANK = "_rank"


@contextmanager
def spark_session(master: str = DEFAULT_MASTER) -> Iterator:
    """A Spark session for botify (quiet, no UI), stopped on exit unless it was running
    already (a notebook's, whose master then stays)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    spark = running or (
        SparkSession.builder.master(master).appName("botify")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        if running is None:
            spark.stop()


def _schema():
    """The log's fields as Spark reads them (an object as a map of strings)."""
    from pyspark.sql import types as T

    types = {ev.INT: T.LongType(), ev.NUMBER: T.DoubleType(), ev.STRING: T.StringType(),
             ev.OBJECT: T.MapType(T.StringType(), T.StringType())}
    return T.StructType([T.StructField(name, types[kind]) for name, kind in ev.FIELDS.items()])


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
                             .alias(FILE), F.monotonically_increasing_id().alias(ROW))
        frames.append(parsed.select("e.*", FILE, ROW).where(~F.col(FILE).endswith(".torn")))
    parquet_paths = [*parquet, *(p for p in remote if p.endswith(".parquet"))]
    if parquet_paths:
        raw = spark.read.parquet(*parquet_paths)
        frames.append(raw.select(  # objects are stored as their JSON text
            *[F.from_json(f.name, f.dataType).alias(f.name) if ev.FIELDS[f.name] == ev.OBJECT
              else F.col(f.name) for f in _schema().fields],
            F.input_file_name().alias(FILE), F.monotonically_increasing_id().alias(ROW)))
    if not frames:
        raise DataError("no log files to read")
    # Parsed once and kept: every later pass (the file names here, the checks, the engines'
    # aggregations) reads the cached columns instead of parsing the files again.
    events = (frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])).cache()
    names = [row[0] for row in events.select(FILE).distinct().collect()]
    ranks = spark.createDataFrame(_file_ranks(names, [*files, *parquet]), [FILE, RANK])
    events = events.join(F.broadcast(ranks), FILE, "left")
    required = [ev.MESSAGE, ev.TIMESTAMP, ev.USER, ev.TRACK, ev.TIME, ev.LATENCY]
    bad = events.where(" OR ".join(f"{c} IS NULL" for c in required))
    malformed = bad.count()
    if malformed:
        first = bad.select(FILE).first()[0]
        raise DataError(f"{malformed} line(s) of the logs are not events (missing or malformed "
                        f"fields), the first in {first}: `botify analyze` names each line")
    return events


def number_sessions(events, *keys: str):
    """``events`` with ``_session``: per ``keys`` (the user, and the treatment), the number of
    ``last`` events before each event in time order (ties in the files' order), so that the events
    of one session, its ``last`` included, share it."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    by_time = Window.partitionBy(*keys).orderBy(ev.TIMESTAMP, RANK, ROW)
    is_last = (F.col(ev.MESSAGE) == "last").cast("int")
    before = F.sum(is_last).over(by_time.rowsBetween(Window.unboundedPreceding, -1))
    return events.withColumn("_session", F.coalesce(before, F.lit(0)))


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


