"""Segments: the attributes by hand, and every segment's tables equal an analysis of its users."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from botify.analysis import columns as col
from botify.analysis.analyze import analyze, experiment_assignment
from botify.analysis.segments import (
    NEW_USER,
    RETURNING_USER,
    UNKNOWN,
    check_attribute,
    first_track_genre,
    new_or_returning,
    read_segment_file,
    user_segments,
)
from botify.analysis.synthetic import generate_events, write_events
from botify.cli import main
from botify.errors import ConfigError, DataError

OPTIONS = dict(experiment="AB", recommenders=("random", "sticky", "i2i"), seed=11)


def test_new_or_returning_by_hand():
    users = np.array([1, 2, 1, 3, 2])
    times = np.array([50, 100, 120, 130, 140])
    found = new_or_returning(users, times, start=100)
    assert found.to_dict() == {1: RETURNING_USER, 2: NEW_USER, 3: NEW_USER}


def test_first_track_genre_by_hand():
    found = first_track_genre(np.array([1, 1, 2, 3]), np.array([20, 10, 5, 7]),
                              np.array([100, 200, 300, 999]), {100: "rock", 200: "jazz",
                                                                300: "rock"})
    assert found.to_dict() == {1: "jazz", 2: "rock", 3: UNKNOWN}


def test_segment_files_csv_and_jsonl(tmp_path):
    (tmp_path / "s.csv").write_text("user,country\n1,fr\n2,de\n3,\n")
    assert read_segment_file(tmp_path / "s.csv").to_dict() == {1: "fr", 2: "de", 3: UNKNOWN}
    assert read_segment_file(tmp_path / "s.csv").name == "country"
    (tmp_path / "s.jsonl").write_text('{"user": 1, "segment": "a", "note": "x"}\n'
                                      '{"user": 2, "segment": "b", "note": "y"}\n')
    assert read_segment_file(tmp_path / "s.jsonl").to_dict() == {1: "a", 2: "b"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.csv", "who,country\n1,fr\n", "needs the columns user and a segment"),
        ("b.csv", "user,country\nx,fr\n", "row 1: user 'x' is not an integer id"),
        ("c.csv", "user,country\n1,fr\n1,de\n", "user 1 has two segments"),
        ("d.jsonl", '{"user": 1, "a": 1, "b": 2}\n', "name the segment's column 'segment'"),
        ("e.jsonl", "[1, 2]\n", "every line must be a JSON object"),
        ("f.jsonl", "{nope\n", "cannot read the segments"),
    ],
    ids=["no-user", "bad-user", "twice", "ambiguous", "not-object", "not-json"],
)
def test_bad_segment_files_name_the_file(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError) as caught:
        read_segment_file(tmp_path / name)
    assert str(caught.value).startswith(str(tmp_path / name)) and message in str(caught.value)


def test_attributes_are_checked_first(tmp_path):
    with pytest.raises(ConfigError, match="--segment genre needs --catalog"):
        check_attribute("genre")
    with pytest.raises(ConfigError, match="unknown attribute 'country'"):
        check_attribute("country")
    with pytest.raises(DataError, match="no such segment file"):
        check_attribute(str(tmp_path / "missing.csv"))
    check_attribute("new")


@pytest.fixture(scope="module")
def two_periods():
    """Users 0..599 played before the experiment; 600..899 are new in it."""
    before = generate_events(600, period=0, **OPTIONS)
    during = generate_events(900, period=1, time_effects={"T1": 1.15}, **OPTIONS)
    return before, during


def test_every_segment_equals_the_analysis_of_its_users_alone(two_periods):
    before, during = two_periods
    carried = np.array([t is not None for t in experiment_assignment(during, "AB")])
    segments = user_segments("new", during, carried, pre_events=before)
    assert segments.value_counts().to_dict() == {RETURNING_USER: 600, NEW_USER: 300}
    result = analyze(during, "AB", segments=segments, configured=list(OPTIONS["recommenders"]))
    assert [s.label for s in result.segments] == [RETURNING_USER, NEW_USER]  # largest first
    assert any(w.startswith("segments multiply comparisons: 2 segments by new") for w in
               result.warnings)
    for segment in result.segments:
        users = segments.index[segments == segment.label]
        alone = analyze(during[during["user"].isin(users)].reset_index(drop=True), "AB",
                        configured=list(OPTIONS["recommenders"]))
        pd.testing.assert_frame_equal(segment.effects, alone.effects)
        pd.testing.assert_frame_equal(segment.decisions, alone.decisions)
        assert segment.srm.p_value == pytest.approx(alone.srm.p_value, abs=1e-12)
        assert segment.treatments["users"].tolist() == alone.treatments["users"].tolist()


def test_cli_segments_by_file_and_by_new(two_periods, tmp_path, capsys):
    before, during = two_periods
    write_events(before, tmp_path / "pre" / "data.jsonl")
    write_events(during, tmp_path / "post" / "data.jsonl")
    (tmp_path / "tier.csv").write_text("user,tier\n" + "".join(
        f"{u},{'paid' if u % 3 == 0 else 'free'}\n" for u in range(800)))
    out = tmp_path / "by-tier"
    assert main(["analyze", str(tmp_path / "post"), "--experiment", "AB", "--segment",
                 str(tmp_path / "tier.csv"), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["segments"]["by"] == "tier"
    assert list(summary["segments"]["segments"]) == ["free", "paid", UNKNOWN]
    assert summary["segments"]["segments"]["paid"]["srm"]["mismatch"] is False
    table = pd.read_csv(out / "segments.csv")
    assert table[col.SEGMENT].unique().tolist() == ["free", "paid", UNKNOWN]
    page = (out / "report.md").read_text()
    assert "## Segment tier = paid" in page and "segments multiply comparisons" in page

    out = tmp_path / "by-new"
    assert main(["analyze", str(tmp_path / "post"), "--experiment", "AB", "--pre",
                 str(tmp_path / "pre"), "--segment", "new", "--out", str(out)]) == 0
    segments = json.loads((out / "summary.json").read_text())["segments"]["segments"]
    assert {k: sum(t["users"] for t in v["treatments"]) for k, v in segments.items()} == {
        RETURNING_USER: 600, NEW_USER: 300}
    capsys.readouterr()
    assert main(["analyze", str(tmp_path / "post"), "--experiment", "AB", "--segment",
                 str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "no such segment file" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_cli_segments_by_genre_with_a_catalog(two_periods, tmp_path):
    _, during = two_periods
    write_events(during, tmp_path / "post" / "data.jsonl")
    genres = ("rock", "jazz", "pop")
    (tmp_path / "tracks.jsonl").write_text("".join(
        json.dumps({"track": t, "artist": f"a{t % 50}", "title": f"t{t}",
                    "genre": genres[t % 3]}) + "\n" for t in range(10_000)))
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "post"), "--experiment", "AB", "--segment", "genre",
                 "--catalog", str(tmp_path / "tracks.jsonl"), "--out", str(out)]) == 0
    segments = json.loads((out / "summary.json").read_text())["segments"]["segments"]
    first = during.sort_values("timestamp", kind="stable").drop_duplicates("user")
    expected = pd.Series([genres[t % 3] for t in first["track"]]).value_counts().to_dict()
    assert {k: sum(t["users"] for t in v["treatments"]) for k, v in segments.items()} == expected
