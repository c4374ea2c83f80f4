"""The class leaderboard: a hidden split of the logs, and submissions scored on it."""

from __future__ import annotations

import stat

import numpy as np
import orjson
import pandas as pd
import pytest

from botify.cli import main
from botify.errors import ConfigError, DataError
from botify.events import TIMESTAMP, TRACK, USER
from botify.training.dataset import load_events, session_events, split_by_time
from botify.training.evaluation import user_queries
from botify.training.leaderboard import (
    ID_BITS,
    LEADERBOARD_FILE,
    PRIVATE,
    PUBLIC,
    SUBMISSION,
    format_leaderboard,
    hash_ids,
    hidden_split,
    leaderboard,
    read_holdout,
    submission_files,
    write_hidden_split,
)
from botify.training.pipeline import TrainSettings

SALT = "the teacher's secret"
# user_cf alone: the fastest per-user baseline
FAST = TrainSettings(models=["user_cf"], progress=False, seed=0)


@pytest.fixture(scope="module")
def split(events):
    return hidden_split(events, SALT, seed=1)


@pytest.fixture(scope="module")
def class_dir(split, tmp_path_factory):
    directory = tmp_path_factory.mktemp("class")
    write_hidden_split(split, directory)
    return directory


def _write(path, lists):
    records = ({"user": int(u), "tracks": np.asarray(t).tolist()} for u, t in lists.items())
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    return path


def _as_dict(split):
    return {**split.public, **split.private}


def test_the_split_is_deterministic_for_a_salt_and_a_seed(events, split):
    again = hidden_split(events, SALT, seed=1)
    pd.testing.assert_frame_equal(again.train, split.train)
    for mine, theirs in ((again.public, split.public), (again.private, split.private)):
        assert mine.keys() == theirs.keys()
        assert all(np.array_equal(mine[u], theirs[u]) for u in mine)
    other_seed = hidden_split(events, SALT, seed=2)
    assert other_seed.public.keys() != split.public.keys()  # another half is public
    assert _as_dict(other_seed).keys() == _as_dict(split).keys()  # of the same test users
    other_salt = hidden_split(events, "another secret", seed=1)
    assert set(other_salt.train[USER]).isdisjoint(split.train[USER])


def test_public_and_private_users_are_disjoint_halves_of_the_test_users(events, split):
    train, test = split_by_time(session_events(events), 0.2)
    queries = user_queries(train, test)
    assert set(split.public).isdisjoint(split.private)
    assert set(_as_dict(split)) == set(hash_ids(queries.keys, SALT).tolist())
    assert len(split.public) == len(queries) // 2
    assert len(split.private) == len(queries) - len(queries) // 2


def test_hashed_ids_hide_the_raw_ones_and_join_the_parts(events, split):
    train, test = split_by_time(session_events(events), 0.2)
    raw = np.unique(train[USER])
    hashed = split.train[USER].to_numpy()
    assert set(hashed.tolist()) == set(hash_ids(raw, SALT).tolist())
    assert set(hashed.tolist()).isdisjoint(raw.tolist())
    assert hashed.min() >= 0 and hashed.max() < 2**ID_BITS
    assert set(_as_dict(split)) <= set(hashed.tolist())
    # each hashed user's relevant tracks are that raw user's test positives
    queries = user_queries(train, test)
    back = dict(zip(hash_ids(queries.keys, SALT).tolist(), queries.keys.tolist(), strict=True))
    positives = test[test["time"] > 0.8]
    for user, tracks in _as_dict(split).items():
        expected = np.unique(positives.loc[positives[USER] == back[user], TRACK])
        assert np.array_equal(tracks, expected)
    # the training part is the training sessions' events, each user's in order
    assert len(split.train) == len(train)
    renamed = split.train.sort_values([USER, TIMESTAMP], kind="stable")
    mapping = dict(zip(hash_ids(raw, SALT).tolist(), raw.tolist(), strict=True))
    pairs = sorted(zip(renamed[USER].map(mapping), renamed[TIMESTAMP], renamed[TRACK], strict=True))
    assert pairs == sorted(zip(train[USER], train[TIMESTAMP], train[TRACK], strict=True))


def test_the_written_split_reads_back(split, class_dir):
    events = load_events([class_dir / PUBLIC / "train.jsonl"])
    assert events[USER].tolist() == split.train[USER].tolist()
    assert events[TRACK].tolist() == split.train[TRACK].tolist()
    public = read_holdout(class_dir / PUBLIC / "holdout.jsonl")
    assert public.keys.tolist() == sorted(split.public)
    users = [int(line) for line in (class_dir / PUBLIC / "test_users.txt").read_text().split()]
    assert users == sorted(_as_dict(split))
    shared = orjson.loads((class_dir / PUBLIC / "split.json").read_bytes())
    assert "salt" not in shared and "seed" not in shared
    secret = orjson.loads((class_dir / PRIVATE / "split.json").read_bytes())
    assert secret["salt"] == SALT and secret["seed"] == 1
    assert stat.S_IMODE((class_dir / PRIVATE).stat().st_mode) == 0o700
    for name in ("holdout.jsonl", "split.json"):
        assert stat.S_IMODE((class_dir / PRIVATE / name).stat().st_mode) == 0o600


def test_a_split_is_rewritten_only_with_its_own_settings(events, split, tmp_path):
    write_hidden_split(split, tmp_path)
    before = (tmp_path / PRIVATE / "holdout.jsonl").read_bytes()
    write_hidden_split(hidden_split(events, SALT, seed=1), tmp_path)
    assert (tmp_path / PRIVATE / "holdout.jsonl").read_bytes() == before
    with pytest.raises(ConfigError, match="another salt, seed"):
        write_hidden_split(hidden_split(events, "another secret", seed=2), tmp_path)


def test_too_few_test_users_is_refused(world, tmp_path):
    from botify.training.synthetic import generate_events

    with pytest.raises(DataError, match="too few"):
        hidden_split(generate_events(world, 40, rng=3), SALT, test_fraction=0.05)


def test_a_perfect_submission_tops_the_board_and_random_lies_below_top_pop(
    split, class_dir, tmp_path
):
    rng = np.random.default_rng(7)
    tracks = np.unique(split.train[TRACK])
    random = {u: rng.choice(tracks, 10, replace=False).tolist() for u in _as_dict(split)}
    files = {
        "perfect": _write(tmp_path / "perfect.jsonl", _as_dict(split)),
        "guess": _write(tmp_path / "guess.jsonl", random),
    }
    board = leaderboard(class_dir, files, FAST, k=10)
    rows = {row.name: row for row in board.rows}
    assert board.rows[0].name == "perfect" and board.rows[0].rank == 1
    assert rows["perfect"].private.ndcg == pytest.approx(1.0)
    assert rows["perfect"].public.ndcg == pytest.approx(1.0)
    assert rows["guess"].rank == 2
    assert rows["guess"].private.ndcg < rows["top_pop"].private.ndcg
    assert rows["user_cf"].kind == "baseline" and set(board.models) == {"user_cf"}
    assert board.private_users == len(split.private) and rows["perfect"].private.queries == len(
        split.private
    )
    private = [row.private.ndcg for row in board.rows]
    assert private == sorted(private, reverse=True)
    table = format_leaderboard(board)
    assert table.splitlines()[0].split()[:4] == ["rank", "name", "kind", "private"]
    assert table.splitlines()[2].split()[:3] == ["1", "perfect", SUBMISSION]


def test_users_without_a_list_score_zero(split, class_dir, tmp_path):
    """Lists (``botify train``'s) may name any training user; test users left out score 0."""
    half = sorted(split.private)[: len(split.private) // 3]
    lists = {user: split.private[user] for user in half}
    lists[int(split.train[USER].iloc[0])] = [1, 2, 3]  # any training user may have a list
    board = leaderboard(class_dir, {"some": _write(tmp_path / "some.jsonl", lists)}, FAST)
    (row,) = [row for row in board.rows if row.name == "some"]
    assert row.private.ndcg == pytest.approx(len(half) / len(split.private))


GOOD = '{"user": FIRST, "tracks": [1, 2]}'


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([GOOD, "{not json"], ":2: not valid JSON"),
        ([GOOD, '{"user": 12345, "tracks": [1]}'], ":2: user 12345 is not a user of the training"),
        ([GOOD, '{"user": OTHER, "tracks": "1 2"}'], ':2: "tracks" must be a list'),
        ([GOOD, '{"user": OTHER, "tracks": [1, -2]}'], ':2: "tracks" must hold non-negative'),
        ([GOOD, '{"user": FIRST, "tracks": [4]}'], ":2: id FIRST appears twice"),
        (["", '{"track": 1, "recommendations": [2]}'], ":2: a per_track record, expected per-user"),
        ([GOOD, "", '{"track": 1, "recommendations": [2]}'], ":3: a per_track record in a"),
        ([""], "has no records"),
    ],
    ids=["bad-json", "unknown-user", "tracks-not-a-list", "negative-track", "duplicate-user",
         "per-track-file", "per-track-line", "empty"],
)
def test_a_malformed_submission_gets_a_row_with_its_error(
    split, class_dir, tmp_path, lines, message
):
    first, other = sorted(_as_dict(split))[:2]
    bad = tmp_path / "bad.jsonl"
    text = "\n".join(lines).replace("FIRST", str(first)).replace("OTHER", str(other))
    bad.write_text(text + "\n")
    good = _write(tmp_path / "good.jsonl", split.private)
    board = leaderboard(class_dir, {"bad": bad, "good": good}, FAST)
    rows = {row.name: row for row in board.rows}
    assert rows["good"].rank == 1 and rows["good"].private.ndcg == pytest.approx(1.0)
    error = rows["bad"].error
    assert str(bad) in error and message.replace("FIRST", str(first)) in error
    assert "\n" not in error
    assert rows["bad"].public is None and rows["bad"].rank is None and board.rows[-1].name == "bad"
    assert f"rejected bad: {error}" in format_leaderboard(board)


def test_submission_files_from_files_and_directories(tmp_path):
    (tmp_path / "subs").mkdir()
    for name in ("b.jsonl", "a.jsonl", "notes.txt", ".hidden.jsonl"):
        (tmp_path / "subs" / name).write_text("")
    files = submission_files([tmp_path / "subs"])
    assert list(files) == ["a", "b"]
    (tmp_path / "a.jsonl").write_text("")
    with pytest.raises(ConfigError, match="two submissions are named 'a'"):
        submission_files([tmp_path / "subs", tmp_path / "a.jsonl"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no submission"):
        submission_files([tmp_path / "empty"])
    with pytest.raises(DataError, match="no such submission"):
        submission_files([tmp_path / "nope.jsonl"])


def test_the_cli_end_to_end(small_log_dir, tmp_path, capsys):
    out = tmp_path / "class"
    split_argv = ["evaluate", "--split", "hidden", "--logs", str(small_log_dir), "--out", str(out)]
    assert main([*split_argv, "--seed", "4", "--salt", "s3cret"]) == 0
    assert "public" in capsys.readouterr().out
    first = (out / PUBLIC / "train.jsonl").read_bytes()
    assert main([*split_argv, "--seed", "4"]) == 0  # the salt is read from the split
    assert (out / PUBLIC / "train.jsonl").read_bytes() == first
    assert main([*split_argv, "--seed", "5"]) == 2
    assert "already holds a hidden split with another seed" in capsys.readouterr().err

    subs = tmp_path / "subs"
    subs.mkdir()
    holdouts = [out / part / "holdout.jsonl" for part in (PUBLIC, PRIVATE)]
    (subs / "oracle.jsonl").write_bytes(b"".join(path.read_bytes() for path in holdouts))
    top = orjson.loads((out / PRIVATE / "holdout.jsonl").read_bytes().splitlines()[0])
    (subs / "lazy.jsonl").write_bytes(orjson.dumps(top) + b"\n")
    board_argv = ["evaluate", "--leaderboard", str(out), "--submissions", str(subs), "--quiet"]
    assert main([*board_argv, "--k", "5"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split()[3:5] == ["private", "ndcg@5"]
    assert printed.splitlines()[2].split()[:3] == ["1", "oracle", "submission"]
    board = orjson.loads((out / LEADERBOARD_FILE).read_bytes())
    assert board["k"] == 5 and set(board["baseline_models"]) == {"als", "user_cf"}
    names = [row["name"] for row in board["rows"]]
    assert names[0] == "oracle" and {"top_pop", "random", "lazy"} <= set(names)
    assert board["rows"][0]["private"]["ndcg"] == pytest.approx(1.0)

    (subs / "broken.jsonl").write_text('{"user": 1, "tracks": [1]}\n')
    assert main([*board_argv, "--models", "user_cf"]) == 2
    captured = capsys.readouterr()
    assert "rejected broken: " in captured.out and "broken.jsonl:1: user 1 is not" in captured.out
    assert captured.err.strip().startswith("botify evaluate: error: 1 submission(s) rejected")
    assert "Traceback" not in captured.err
    rows = orjson.loads((out / LEADERBOARD_FILE).read_bytes())["rows"]
    assert rows[-1]["name"] == "broken" and rows[-1]["error"] and rows[0]["name"] == "oracle"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--submissions", "a.jsonl"], "--submissions needs --leaderboard"),
        (["--split", "hidden", "--leaderboard", "d"], "two steps"),
        (["--leaderboard", "d", "--logs", "x"], "no --logs, --out or --salt"),
        (["--split", "hidden", "--logs", "x"], "required: --out"),
        (["--logs", "x", "--out", "o", "--salt", "s"], "--salt needs --split hidden"),
    ],
    ids=["submissions-alone", "both-steps", "leaderboard-with-logs", "split-without-out",
         "salt-alone"],
)
def test_the_cli_refuses_mixed_flags(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_baseline_must_write_per_user_lists(tmp_path, capsys):
    assert main(["evaluate", "--leaderboard", str(tmp_path), "--models", "i2i_cooc"]) == 2
    assert "writes no per-user lists" in capsys.readouterr().err
    assert main(["evaluate", "--leaderboard", str(tmp_path / "nope")]) == 2
    assert "botify evaluate --split hidden" in capsys.readouterr().err
