"""``botify analyze --engine spark``: Spark (local mode) cuts the same sessions, so the report is
the pandas engine's."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest

from botify.analysis import analyze
from botify.analysis import spark as engine
from botify.analysis.analyze import analyze_sessions
from botify.analysis.sessions import sessionize_events
from botify.analysis.synthetic import generate_events, write_events
from botify.cli import main
from botify.errors import DataError
from botify.events import audit, read_events
from botify.export import export_logs


@pytest.fixture(scope="module")
def spark():
    with engine.spark_session("local[2]") as session:
        yield session


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Two processes' files of one experiment (ids, open sessions, a tie), and a pre-period."""
    root = tmp_path_factory.mktemp("logs")
    options = dict(recommenders=("a", "b", "c"), seed=5)
    frame = generate_events(900, period=1, time_effects={"T1": 1.15}, open_sessions=0.05,
                            **options)
    lines = []
    for i, row in enumerate(frame.to_dict("records")):
        row = {k: (None if pd.isna(v) else v) if not isinstance(v, dict) else v
               for k, v in row.items()}
        row["recommendation"] = None if row["recommendation"] is None else int(
            row["recommendation"])
        row["id"] = f"proc{i % 2}:{i // 2 + 1}"
        lines.append(row)
    # A user's 'last' and next 'next' in the same millisecond, in two files: the files' order
    # decides which session the second belongs to.
    user = lines[0]["user"]
    tie = [dict(lines[0], message="last", timestamp=1_700_100_000_000, id="proc0:999990"),
           dict(lines[0], message="next", timestamp=1_700_100_000_000, id="proc1:999990"),
           dict(lines[0], message="last", timestamp=1_700_100_000_001, id="proc1:999991")]
    assert all(t["user"] == user for t in tie)
    for name, part in (("data.h.0.jsonl", [*lines[0::2], tie[0]]),
                       ("data.h.1.jsonl", [*lines[1::2], tie[1], tie[2]])):
        (root / "ab").mkdir(exist_ok=True)
        (root / "ab" / name).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in part))
    write_events(generate_events(900, period=0, **options), root / "pre" / "data.jsonl")
    return root / "ab", root / "pre"


def _assert_same(pandas_run, spark_run) -> None:
    pd.testing.assert_frame_equal(pandas_run.treatments, spark_run.treatments)
    left = pandas_run.effects.reset_index(drop=True)
    right = spark_run.effects.reset_index(drop=True)
    assert list(left.columns) == list(right.columns) and len(left) == len(right) > 0
    for column in left.columns:
        if pd.api.types.is_float_dtype(left[column]):
            np.testing.assert_allclose(right[column], left[column], rtol=1e-9, atol=1e-300,
                                       err_msg=column)
        else:
            assert left[column].tolist() == right[column].tolist(), column
    assert spark_run.srm.p_value == pytest.approx(pandas_run.srm.p_value, rel=1e-12)
    pd.testing.assert_frame_equal(pandas_run.decisions, spark_run.decisions)


def test_spark_cuts_the_same_sessions(spark, logs):
    ab, _ = logs
    events = read_events([ab])
    expected = sessionize_events(events).table
    found = engine.all_sessions(engine.read_events(spark, [ab]))
    assert len(found) == len(expected) > 0
    for column in ("user", "timestamp", "tracks"):
        assert found[column].tolist() == expected[column].tolist(), column
    np.testing.assert_allclose(found["time"], expected["time"], rtol=1e-12)
    np.testing.assert_allclose(found["latency"], expected["latency"], rtol=1e-12)


def test_the_analysis_is_the_pandas_engines_with_cuped(spark, logs):
    ab, pre = logs
    pandas_run = analyze(read_events([ab]), "AB", pre_events=read_events([pre]),
                         configured=["a", "b", "c"])
    spark_run = analyze_sessions(
        engine.sessionize_experiment(engine.read_events(spark, [ab]), "AB"), "AB",
        pre_sessions=engine.all_sessions(engine.read_events(spark, [pre])),
        configured=["a", "b", "c"])
    assert pandas_run.warnings == spark_run.warnings and pandas_run.warnings  # open sessions
    assert set(pandas_run.cuped) == set(spark_run.cuped)
    for metric, fit in pandas_run.cuped.items():
        assert spark_run.cuped[metric].theta == pytest.approx(fit.theta, rel=1e-9)
    _assert_same(pandas_run, spark_run)


def test_a_parquet_export_reads_the_same(spark, logs, tmp_path):
    ab, _ = logs
    export_logs([ab], tmp_path / "export")
    pandas_run = analyze(read_events([ab]), "AB")
    spark_run = analyze_sessions(
        engine.sessionize_experiment(engine.read_events(spark, [tmp_path / "export"]), "AB"),
        "AB")
    _assert_same(pandas_run, spark_run)


def test_the_id_audit_matches(spark, logs, tmp_path):
    ab, _ = logs
    copy = tmp_path / "twice"
    copy.mkdir()
    first = (ab / "data.h.0.jsonl").read_bytes().splitlines(keepends=True)
    (copy / "data.h.0.jsonl").write_bytes(b"".join(first[:50] + first[60:]))  # 10 lost
    (copy / "data.h.1.jsonl").write_bytes((ab / "data.h.1.jsonl").read_bytes())
    (copy / "data.h.2.jsonl").write_bytes(b"".join(first[:5]))  # 5 read twice
    expected = audit(read_events([copy])["id"].to_numpy(na_value=None))
    assert expected["gaps"] >= 10 and expected["duplicates"] == 5
    assert engine.id_audit(engine.read_events(spark, [copy])) == expected


def test_malformed_logs_and_unknown_experiments_are_data_errors(spark, logs, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "data.jsonl").write_text('{"message": "next", "user": 1}\n')
    with pytest.raises(DataError, match="1 line.* are not events"):
        engine.read_events(spark, [bad])
    ab, _ = logs
    with pytest.raises(DataError, match="no event carries the experiment 'NOPE'.*AB"):
        engine.sessionize_experiment(engine.read_events(spark, [ab]), "NOPE")


def test_the_command_writes_the_same_report(logs, tmp_path, capsys):
    ab, pre = logs
    assert main(["analyze", str(ab), "--experiment", "AB", "--pre", str(pre), "--out",
                 str(tmp_path / "pandas")]) == 0
    assert main(["analyze", str(ab), "--experiment", "AB", "--pre", str(pre), "--out",
                 str(tmp_path / "spark"), "--engine", "spark", "--master", "local[2]"]) == 0
    left = pd.read_csv(tmp_path / "pandas" / "effects.csv")
    right = pd.read_csv(tmp_path / "spark" / "effects.csv")
    for column in left.columns:
        if pd.api.types.is_float_dtype(left[column]):
            np.testing.assert_allclose(right[column], left[column], rtol=1e-9, err_msg=column)
        else:
            assert left[column].fillna("").tolist() == right[column].fillna("").tolist()
    capsys.readouterr()
    assert main(["analyze", str(ab), "--experiment", "AB", "--out", str(tmp_path / "x"),
                 "--engine", "spark", "--looks", "3"]) == 2
    assert "--looks need the events themselves" in capsys.readouterr().err
    assert main(["analyze", str(ab), "--experiment", "AB", "--out", str(tmp_path / "x"),
                 "--master", "local[2]"]) == 2
    assert "--master goes with --engine spark" in capsys.readouterr().err


def test_a_uri_goes_to_spark_as_it_is(spark, logs):
    ab, _ = logs
    by_path = engine.all_sessions(engine.read_events(spark, [ab]))
    by_uri = engine.all_sessions(engine.read_events(spark, [ab.resolve().as_uri()]))
    pd.testing.assert_frame_equal(by_path, by_uri)
