"""A leaderboard for a class: a hidden split of the logs, and the students' submissions scored.

``botify evaluate --split hidden --logs LOGS --out DIR`` splits the logs by time as the offline
evaluation does (:func:`~botify.training.dataset.split_by_time`, ``--test-fraction``), takes the
test users of the evaluation's ``user`` task (:func:`~botify.training.evaluation.user_queries`:
users of the training part with a positive, ``time > threshold``, in the test part; their relevant
tracks are their distinct test positives), and writes::

    DIR/public/                  for the students
        train.jsonl              the training part: the events of the older sessions in the
                                 service's log format (message, timestamp, user, track, time,
                                 latency, recommendation), in timestamp order, user ids hashed
        test_users.txt           the hashed id of every test user, one a line, ascending: a
                                 submission lists tracks for these
        holdout.jsonl            the public half of the test users and their relevant tracks,
                                 {"user": hashed id, "tracks": [track, ...]} (tracks ascending), to
                                 self-check on
        split.json               test_fraction, threshold, the first test timestamp, the counts
    DIR/private/                 for the teacher only (directory 0700, files 0600)
        holdout.jsonl            the other half, same format
        split.json               the same plus the salt and the seed

A user id becomes the keyed BLAKE2b hash of its decimal digits, keyed by the secret salt, cut to 53
bits (a non-negative integer that float64 and JavaScript hold exactly): without the salt the
training part cannot be joined with anything keyed by the real ids. Track ids and timestamps are
kept. Which test users are public is a hash of the seed and the hashed id: the first half of the
test users in that hash's order (``n // 2`` of them) is public, the rest private. Without a salt a
random one is drawn and kept in ``private/split.json``; the same logs, salt and seed give the same
files. A directory that already holds a split is only rewritten with the same salt, seed, test
fraction and threshold (the salt is then read from it), so a second run cannot silently invalidate
the submissions made against the first one, nor move users seen in the public half to the private
one.

``botify evaluate --leaderboard DIR --submissions FILE_OR_DIR ...`` scores each submission, a
per-user JSONL file ``{"user": hashed id, "tracks": [track, ...]}`` (best first, the format of a
``per_user`` artifact, so ``botify train --logs DIR/public/train.jsonl`` writes valid ones) named
after its author by its file stem, on the public and on the private half with the evaluation's
:func:`~botify.training.evaluation.score` (NDCG@k, recall@k, precision@k, MRR@k, coverage, ...). A
test user without a list scores 0; lists of other training users are ignored. The baselines come
from the training part: ``top_pop``, ``random``, and the best per-user model (by public NDCG) among
those trained (``--models``, by default ``names.LEADERBOARD_BASELINES``). The board is sorted by
private NDCG (then public NDCG, then name); submissions are ranked (equal private NDCG, equal
rank), the baselines stand among them unranked. A submission that cannot be read (not JSON, a user
id that is not a hashed id of the training part, a user twice, a field of the wrong type, no
lines) is not scored: its row says why (file and line) and the board still scores the others.
``DIR/leaderboard.json`` holds every row with every metric of both halves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from botify.errors import ConfigError, DataError
from botify.events import LATENCY, MESSAGE, RECOMMENDATION, TIME, TIMESTAMP, TRACK, USER
from botify.files import atomic_write_text
from botify.registry import MODELS
from botify.store.artifacts import PER_USER, iter_artifact
from botify.training.artifacts import JSONL_SUFFIX, RecommendationLists, write_json, write_jsonl
from botify.training.catalog import TrackCatalog
from botify.training.dataset import (
    POSITIVE_THRESHOLD,
    SESSION,
    load_events,
    session_events,
    split_by_time,
)
from botify.training.evaluation import (
    USER_TASK,
    Queries,
    Scores,
    TrainPopularity,
    random_lists,
    score,
    text_table,
    to_json,
    user_queries,
)
from botify.training.model import outputs
from botify.training.pipeline import TrainSettings, fit_models
from botify.training.popularity import TopTracks

PUBLIC = "public"
PRIVATE = "private"
TRAIN_FILE = "train.jsonl"
USERS_FILE = "test_users.txt"
HOLDOUT_FILE = "holdout.jsonl"
SPLIT_FILE = "split.json"
LEADERBOARD_FILE = "leaderboard.json"
SUBMISSION = "submission"
BASELINE = "baseline"
# Hashed ids stay below 2**53: exact in float64 (pandas with a NaN) and in JavaScript.
ID_BITS = 53
_FIRST_TEST = "first_test_timestamp"
# What a split is made with: rewriting a directory's split needs the same.
_SETTINGS = ("salt", "seed", "test_fraction", "threshold")
_LOG_FIELDS = (MESSAGE, TIMESTAMP, USER, TRACK, TIME, LATENCY, RECOMMENDATION)


# --------------------------------------------------------------------------------------------------
# The hidden split


def new_salt() -> str:
    """A random secret salt (32 hex digits)."""
    return secrets.token_hex(16)


def hash_ids(ids: np.ndarray, salt: str) -> np.ndarray:
    """The salted hash of each id: keyed BLAKE2b of its decimal digits, cut to :data:`ID_BITS`.

    Raises:
        ConfigError: the salt is empty.
    """
    if not salt:
        raise ConfigError("the salt must not be empty")
    return _digests(ids, hashlib.blake2b(salt.encode(), digest_size=32).digest())


def _digests(ids: np.ndarray, key: bytes) -> np.ndarray:
    values = [
        int.from_bytes(hashlib.blake2b(str(v).encode(), key=key, digest_size=8).digest(), "big")
        >> (64 - ID_BITS)
        for v in np.asarray(ids, dtype=np.int64).tolist()
    ]
    return np.asarray(values, dtype=np.int64)


@dataclass(frozen=True)
class HiddenSplit:
    """A hidden split of event logs, before it is written (see the module docstring).

    Attributes:
        train: the training events in the log's layout (:data:`_LOG_FIELDS`), users hashed,
            in timestamp order.
        public: hashed test user -> relevant tracks (ascending), the public half.
        private: the same for the private half.
        settings: ``salt, seed, test_fraction, threshold, first_test_timestamp``.
    """

    train: pd.DataFrame
    public: dict[int, np.ndarray]
    private: dict[int, np.ndarray]
    settings: dict[str, Any]

    def counts(self) -> dict[str, int]:
        """Events and users of each part."""
        return {
            "train_events": len(self.train),
            "train_users": int(self.train[USER].nunique()),
            "test_users": len(self.public) + len(self.private),
            "public_users": len(self.public),
            "private_users": len(self.private),
        }


def hidden_split(
    events: pd.DataFrame,
    salt: str,
    seed: int = 0,
    test_fraction: float = 0.2,
    threshold: float = POSITIVE_THRESHOLD,
) -> HiddenSplit:
    """Split events by time and hide the test users' positives (see the module docstring).

    Args:
        events: the events as ``dataset.load_events`` reads them.
        salt: the secret the user ids are hashed with.
        seed: which half of the test users is public.
        test_fraction: the share of the newest events held out, as in the evaluation.
        threshold: a test listen is relevant when ``time > threshold``.

    Raises:
        DataError: the holdout is empty, has fewer than two test users, or two users hash alike.
        ConfigError: the salt is empty.
    """
    if not 0.0 <= threshold < 1.0:
        raise DataError(f"the threshold must be in [0, 1), got {threshold}")
    sessions = session_events(events)
    train, test = split_by_time(sessions, test_fraction)
    queries = user_queries(train, test, threshold)
    if len(queries) < 2:
        raise DataError(
            f"the holdout has {len(queries)} test user(s) with a listen past {threshold}: too few "
            "for a public and a private half (more logs, or a larger --test-fraction)"
        )
    # session_events sorts the same way (stable), so its rows are these events' rows
    ordered = events.sort_values([USER, TIMESTAMP], kind="stable", ignore_index=True)
    in_train = sessions[SESSION].isin(train[SESSION].unique()).to_numpy()
    part = ordered.loc[in_train, list(_LOG_FIELDS)]
    part = part.sort_values(TIMESTAMP, kind="stable", ignore_index=True)
    raw = np.unique(ordered[USER].to_numpy())
    hashed = hash_ids(raw, salt)
    if len(np.unique(hashed)) < len(raw):
        raise DataError("two user ids hash to the same id with this salt: choose another salt")
    part[USER] = hashed[np.searchsorted(raw, part[USER].to_numpy())]
    keys = hashed[np.searchsorted(raw, queries.keys)]
    relevant = np.split(queries.pair_track, np.cumsum(np.bincount(queries.pair_query))[:-1])
    order = np.argsort(_digests(keys, f"public half {seed}".encode()), kind="stable")
    public = np.zeros(len(keys), dtype=bool)
    public[order[: len(keys) // 2]] = True
    by_user = sorted(zip(keys.tolist(), relevant, public.tolist(), strict=True))
    settings = {
        "salt": salt,
        "seed": seed,
        "test_fraction": test_fraction,
        "threshold": threshold,
        _FIRST_TEST: int(test[TIMESTAMP].min()),
    }
    return HiddenSplit(
        train=part,
        public={user: np.sort(tracks) for user, tracks, is_public in by_user if is_public},
        private={user: np.sort(tracks) for user, tracks, is_public in by_user if not is_public},
        settings=settings,
    )


def existing_split(out: str | os.PathLike) -> dict[str, Any] | None:
    """The settings of the split already written under ``out`` (salt included), or None."""
    path = Path(out) / PRIVATE / SPLIT_FILE
    return _read_json(path) if path.exists() else None


def write_hidden_split(split: HiddenSplit, out: str | os.PathLike) -> dict[str, Path]:
    """Write the split under ``out`` (``public/`` and ``private/``), every file atomically.

    Returns:
        What was written: ``train``, ``test_users``, ``public``, ``private`` (the holdouts),
        ``public_split``, ``private_split``.

    Raises:
        ConfigError: ``out`` already holds a split made with other settings.
        DataError: a file cannot be written.
    """
    out = Path(out)
    found = existing_split(out)
    if found is not None:
        differ = [key for key in _SETTINGS if found.get(key) != split.settings[key]]
        if differ:
            raise ConfigError(
                f"{out} already holds a hidden split with another {', '.join(differ)}: "
                "submissions may have been made against it; use another --out (or remove "
                f"{out / PRIVATE} to start over)"
            )
    public, private = out / PUBLIC, out / PRIVATE
    try:
        private.mkdir(parents=True, exist_ok=True)
        private.chmod(0o700)
    except OSError as exc:
        raise DataError(f"{private}: cannot write there ({exc.strerror or exc})") from None
    # the students' copy: no salt, nor the seed that picked the public half
    described = {
        **split.counts(),
        **{key: split.settings[key] for key in ("test_fraction", "threshold", _FIRST_TEST)},
    }
    written = {
        "train": write_jsonl(public / TRAIN_FILE, _log_records(split.train)),
        "test_users": _write_text(
            public / USERS_FILE,
            "".join(f"{user}\n" for user in sorted([*split.public, *split.private])),
        ),
        "public": write_jsonl(public / HOLDOUT_FILE, _holdout_records(split.public)),
        "public_split": write_json(public / SPLIT_FILE, described),
        "private": write_jsonl(private / HOLDOUT_FILE, _holdout_records(split.private)),
        "private_split": write_json(
            private / SPLIT_FILE, {**split.counts(), **split.settings}
        ),
    }
    for path in (written["private"], written["private_split"]):
        path.chmod(0o600)
    return written


def _log_records(train: pd.DataFrame) -> Iterator[dict]:
    missing = train[RECOMMENDATION].isna().tolist()
    recommendation = train[RECOMMENDATION].fillna(-1).to_numpy(dtype=np.int64).tolist()
    names = [c for c in _LOG_FIELDS if c != RECOMMENDATION]
    columns = [train[c].tolist() for c in names]
    for *values, rec, absent in zip(*columns, recommendation, missing, strict=True):
        record = dict(zip(names, values, strict=True))
        record[RECOMMENDATION] = None if absent else rec
        yield record


def _holdout_records(holdout: Mapping[int, np.ndarray]) -> Iterator[dict]:
    for user, tracks in holdout.items():
        yield {"user": user, "tracks": tracks.tolist()}


def _write_text(path: Path, text: str) -> Path:
    try:
        return atomic_write_text(path, text)
    except OSError as exc:
        raise DataError(f"{path.parent}: cannot write there ({exc.strerror or exc})") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object")
    return value


# --------------------------------------------------------------------------------------------------
# Reading lists


def read_holdout(path: str | os.PathLike) -> Queries:
    """A holdout file (``{"user", "tracks"}`` per line) as the ``user`` task's queries.

    Raises:
        DataError: the file is missing or malformed (names the file and line).
    """
    lists = read_lists(path)
    sizes = np.asarray([len(items) for items in lists.items], dtype=np.int64)
    if (sizes == 0).any():
        user = int(lists.keys[np.argmax(sizes == 0)])
        raise DataError(f"{path}: user {user} has no relevant track")
    return Queries(
        USER_TASK,
        lists.keys.astype(np.int64),
        np.repeat(np.arange(len(sizes)), sizes),
        np.concatenate(lists.items).astype(np.int64),
    )


def read_lists(
    path: str | os.PathLike, known_users: np.ndarray | None = None
) -> RecommendationLists:
    """A per-user JSONL file (``{"user": id, "tracks": [...]}``) as lists.

    Args:
        path: the file.
        known_users: if given, the ids a line may name (ascending).

    Raises:
        DataError: unreadable, empty, not per-user lists, a user twice or not known, a malformed
            line; the message names the file and the line.
    """
    keys: list[int] = []
    items: list[list[int]] = []
    for index, (kind, user, value) in enumerate(iter_artifact(path)):
        if kind != PER_USER:
            raise DataError(
                f"{path}:{_line_number(path, index)}: a {kind} record, expected per-user lists "
                '{"user": id, "tracks": [track, ...]}'
            )
        keys.append(user)
        items.append(value[0])
    users = np.asarray(keys, dtype=np.int64)
    if known_users is not None:
        unknown = ~np.isin(users, known_users)
        if unknown.any():
            index = int(np.argmax(unknown))
            raise DataError(
                f"{path}:{_line_number(path, index)}: user {keys[index]} is not a user of the "
                f"training part (ids are the hashed ones of {PUBLIC}/{TRAIN_FILE})"
            )
    return RecommendationLists(kind=PER_USER, keys=users, items=items)


def _line_number(path: str | os.PathLike, index: int) -> int:
    """The line number of the ``index``-th non-blank line (an error's place; read again then)."""
    with open(path, "rb") as handle:
        seen = -1
        for number, line in enumerate(handle, start=1):
            seen += bool(line.strip())
            if seen == index:
                return number
    return index + 1


def submission_files(paths: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """Submission name (file stem) -> file; a directory gives its ``*.jsonl`` files.

    Raises:
        DataError: a path does not exist, or a directory holds no ``.jsonl`` file.
        ConfigError: two submissions share a name.
    """
    files: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir()
                if p.is_file() and p.suffix == JSONL_SUFFIX and not p.name.startswith(".")
            )
            if not found:
                raise DataError(f"{path}: no submission (*{JSONL_SUFFIX}) in this directory")
        elif path.is_file():
            found = [path]
        else:
            raise DataError(f"{path}: no such submission file or directory")
        for file in found:
            if file.stem in files and files[file.stem] != file:
                raise ConfigError(
                    f"two submissions are named {file.stem!r}: {files[file.stem]} and {file}"
                )
            files[file.stem] = file
    return files


# --------------------------------------------------------------------------------------------------
# The leaderboard


@dataclass(frozen=True)
class Row:
    """One line of the leaderboard.

    Attributes:
        name: the submission's file stem, or the baseline's name.
        kind: :data:`SUBMISSION` or :data:`BASELINE`.
        public: its scores on the public half (None when it could not be read).
        private: its scores on the private half.
        file: the submission's file.
        error: why a submission was not scored.
        rank: a scored submission's rank (baselines and rejected submissions have none).
    """

    name: str
    kind: str
    public: Scores | None = None
    private: Scores | None = None
    file: str | None = None
    error: str | None = None
    rank: int | None = None


@dataclass(frozen=True)
class Leaderboard:
    """The scored submissions and baselines, sorted (see the module docstring).

    Attributes:
        k: the metrics' cutoff.
        rows: best first; rejected submissions last.
        public_users: test users of the public half.
        private_users: of the private half.
        models: each baseline model trained, with its public NDCG@k (the best is a row).
    """

    k: int
    rows: list[Row]
    public_users: int
    private_users: int
    models: dict[str, float]

    @property
    def rejected(self) -> list[Row]:
        """The submissions that could not be read."""
        return [row for row in self.rows if row.error is not None]


def check_baseline_models(models: Sequence[str]) -> None:
    """Refuse a baseline that writes no per-user lists (before any data is read).

    Raises:
        ConfigError: a model is unknown or writes no per-user lists.
    """
    for spec in models:
        if PER_USER not in outputs(MODELS.get(spec)).values():
            raise ConfigError(
                f"model {spec!r} writes no per-user lists: the leaderboard's baselines are "
                "per-user models (als, multidae, user_cf, ...)"
            )


def leaderboard(
    directory: str | os.PathLike,
    submissions: Mapping[str, str | os.PathLike],
    settings: TrainSettings,
    k: int = 10,
) -> Leaderboard:
    """Score submissions and the baselines on the hidden split written under ``directory``.

    Args:
        directory: where ``write_hidden_split`` wrote the split.
        submissions: name -> per-user JSONL file (see :func:`submission_files`).
        settings: the baseline models to train (``models``, per-user
            ones), their seed and options; the threshold is the split's.
        k: the metrics' cutoff.

    Raises:
        DataError: the split is missing or malformed, or a baseline cannot be trained.
        ConfigError: a baseline model writes no per-user lists.
    """
    directory = Path(directory)
    check_baseline_models(settings.models)
    split = _read_json(_required(directory / PRIVATE / SPLIT_FILE))
    settings = dataclasses.replace(settings, threshold=float(split["threshold"]))
    public = read_holdout(_required(directory / PUBLIC / HOLDOUT_FILE))
    private = read_holdout(_required(directory / PRIVATE / HOLDOUT_FILE))
    sessions = session_events(load_events([_required(directory / PUBLIC / TRAIN_FILE)]))
    users = np.unique(sessions[USER].to_numpy())
    tracks = np.unique(sessions[TRACK].to_numpy())
    listeners = TrainPopularity.fit(sessions)
    catalog = None if settings.catalog is None else TrackCatalog.read(settings.catalog)
    test_users = np.union1d(public.keys, private.keys)

    def scored(name: str, kind: str, lists: RecommendationLists, file: str | None = None) -> Row:
        both = [
            score(q, lists, k, len(tracks), name, popularity=listeners, catalog=catalog)
            for q in (public, private)
        ]
        return Row(name, kind, *both, file=file)

    rows = [
        scored("top_pop", BASELINE, TopTracks().fit(sessions).as_lists(test_users, k)),
        scored(
            "random",
            BASELINE,
            random_lists(test_users, tracks, k, PER_USER, np.random.default_rng(settings.seed)),
        ),
    ]
    fitted = fit_models(sessions, settings) if settings.models else {}
    candidates = [
        scored(name, BASELINE, lists)
        for name, lists in fitted.items()
        if isinstance(lists, RecommendationLists) and lists.kind == PER_USER
    ]
    if candidates:
        rows.append(max(candidates, key=lambda row: row.public.ndcg))
    for name, file in submissions.items():
        try:
            lists = read_lists(file, known_users=users)
        except DataError as exc:
            rows.append(Row(name, SUBMISSION, file=str(file), error=str(exc)))
            continue
        rows.append(scored(name, SUBMISSION, lists, file=str(file)))
    return Leaderboard(
        k=k,
        rows=_ranked(rows),
        public_users=len(public),
        private_users=len(private),
        models={row.name: row.public.ndcg for row in candidates},
    )


def _required(path: Path) -> Path:
    if not path.exists():
        raise DataError(
            f"{path}: no such file (a leaderboard needs the split written by "
            "botify evaluate --split hidden, private part included)"
        )
    return path


def _ranked(rows: list[Row]) -> list[Row]:
    good = sorted(
        (row for row in rows if row.error is None),
        key=lambda row: (-row.private.ndcg, -row.public.ndcg, row.name),
    )
    ranked = []
    for row in good:
        if row.kind == SUBMISSION:
            better = sum(
                other.kind == SUBMISSION and other.private.ndcg > row.private.ndcg for other in good
            )
            row = dataclasses.replace(row, rank=better + 1)
        ranked.append(row)
    return ranked + sorted((row for row in rows if row.error is not None), key=lambda r: r.name)


# Columns of the printed table: (header, half, metric).
_COLUMNS = (
    ("private ndcg", PRIVATE, "ndcg"),
    ("public ndcg", PUBLIC, "ndcg"),
    ("recall", PRIVATE, "recall"),
    ("precision", PRIVATE, "precision"),
    ("mrr", PRIVATE, "mrr"),
    ("coverage", PRIVATE, "coverage"),
)


def format_leaderboard(board: Leaderboard) -> str:
    """The board as a plain-text table, sorted by private NDCG, then why rows were rejected."""
    header = ["rank", "name", "kind", *(f"{title}@{board.k}" for title, _, _ in _COLUMNS)]
    body = []
    for row in board.rows:
        cells = [str(row.rank) if row.rank is not None else "-", row.name, row.kind]
        if row.error is not None:
            cells += ["rejected"] + [""] * (len(_COLUMNS) - 1)
        else:
            cells += [f"{getattr(_half(row, half), metric):.4f}" for _, half, metric in _COLUMNS]
        body.append(cells)
    lines = text_table(header, body, left={1, 2})
    lines.append(
        f"public: {board.public_users} users, private: {board.private_users} users; recall, "
        "precision, mrr and coverage on the private half"
    )
    lines += [f"rejected {row.name}: {row.error}" for row in board.rejected]
    return "\n".join(lines)


def _half(row: Row, half: str) -> Scores:
    return row.public if half == PUBLIC else row.private


def leaderboard_json(board: Leaderboard) -> dict[str, Any]:
    """The board as JSON: every row with every metric of both halves (NaN as null)."""
    rows = []
    for row in board.rows:
        rows.append(
            {
                "rank": row.rank,
                "name": row.name,
                "kind": row.kind,
                "file": row.file,
                "error": row.error,
                PUBLIC: None if row.public is None else to_json([row.public])[0],
                PRIVATE: None if row.private is None else to_json([row.private])[0],
            }
        )
    return {
        "k": board.k,
        "sorted_by": f"{PRIVATE} ndcg@{board.k}",
        "public_users": board.public_users,
        "private_users": board.private_users,
        "baseline_models": board.models,
        "rows": rows,
    }


def write_leaderboard(board: Leaderboard, directory: str | os.PathLike) -> Path:
    """Write ``DIR/leaderboard.json`` atomically and return its path."""
    return write_json(Path(directory) / LEADERBOARD_FILE, leaderboard_json(board))
