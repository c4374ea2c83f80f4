"""User segments for ``botify analyze --segment``: an attribute of each user, from logs or a file.

Built-in attributes, fixed before the treatment could change them:

- ``new``: ``returning`` when the user has an event, in any log given, before the experiment's
  first event; ``new`` otherwise;
- ``genre``: the genre of the first track of the user's first session in the experiment (the
  track the user came with, not a recommendation), from the catalog.

Any other value names a file mapping users to segments: CSV with a header, or JSON lines, with the
column ``user`` and one more (the segment; ``segment`` if there are several).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from botify import events as ev
from botify.analysis import columns as col
from botify.errors import ConfigError, DataError

NEW = "new"
GENRE = "genre"
BUILT_IN = (NEW, GENRE)
NEW_USER = "new"
RETURNING_USER = "returning"
UNKNOWN = "(unknown)"
"""The segment of users the attribute says nothing about (not in the file, no genre)."""


def new_or_returning(user: np.ndarray, timestamp: np.ndarray, start: int) -> pd.Series:
    """Per user: ``returning`` when one of its events comes before ``start``, else ``new``.

    Args:
        user: the user of every event of the history (the experiment's events and earlier ones).
        timestamp: their epoch milliseconds.
        start: when the experiment began (its first event).
    """
    first = pd.Series(np.asarray(timestamp, dtype=np.int64)).groupby(
        np.asarray(user, dtype=np.int64)).min()
    labels = np.where(first.to_numpy() < start, RETURNING_USER, NEW_USER)
    return pd.Series(labels, index=first.index.rename(col.USER), name=NEW, dtype=object)


def first_track_genre(user: np.ndarray, timestamp: np.ndarray, track: np.ndarray,
                      genres: dict[int, str]) -> pd.Series:
    """Per user: the genre of the track of its earliest event (:data:`UNKNOWN` without one).

    Args:
        user: the user of every event of the experiment.
        timestamp: their epoch milliseconds (ties keep the given order).
        track: their track.
        genres: track id -> genre.
    """
    order = np.argsort(np.asarray(timestamp, dtype=np.int64), kind="stable")
    frame = pd.DataFrame({col.USER: np.asarray(user, dtype=np.int64)[order],
                          "track": np.asarray(track, dtype=np.int64)[order]})
    first = frame.drop_duplicates(col.USER).set_index(col.USER)["track"].sort_index()
    labels = [genres.get(int(t), UNKNOWN) for t in first.to_numpy()]
    return pd.Series(labels, index=first.index, name=GENRE, dtype=object)


def catalog_genres(path: str | os.PathLike) -> dict[int, str]:
    """Track id -> genre of a catalog file (tracks without a genre are left out).

    Raises:
        DataError: the file is missing or malformed.
    """
    from botify.store.catalog import parse_catalog

    records, _ = parse_catalog(path)
    return {int(r["track"]): r["genre"] for r in records
            if isinstance(r.get("genre"), str) and r["genre"]}


def read_segment_file(path: str | os.PathLike) -> pd.Series:
    """Users' segments from a CSV (with a header) or JSON-lines file: ``user`` and a segment column.

    Raises:
        DataError: the file is missing or unreadable, lacks the columns, has a user that is not an
            integer, or gives a user two segments.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"--segment: no such segment file {str(file)!r}")
    try:
        if file.suffix.lower() == ".csv":
            table = pd.read_csv(file, dtype=str, keep_default_na=False)
        else:
            rows = [orjson.loads(line) for line in file.read_bytes().splitlines() if line.strip()]
            if not all(isinstance(row, dict) for row in rows):
                raise DataError(f"{file}: every line must be a JSON object")
            table = pd.DataFrame(rows)
    except (OSError, UnicodeDecodeError, orjson.JSONDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{file}: cannot read the segments ({exc})") from None
    others = [c for c in table.columns if c != col.USER]
    if col.USER not in table.columns or not others:
        raise DataError(f"{file}: needs the columns user and a segment (has: "
                        f"{', '.join(map(str, table.columns)) or 'none'})")
    name = "segment" if len(others) > 1 and "segment" in others else others[0]
    if len(others) > 1 and name != "segment":
        raise DataError(f"{file}: more than one column besides user ({', '.join(others)}): "
                        "name the segment's column 'segment'")
    users = pd.to_numeric(table[col.USER], errors="coerce")
    bad = users.isna() | (users != users.round())
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{file}: row {row + 1}: user {table[col.USER].iloc[row]!r} is not an "
                        "integer id")
    labels = table[name].map(lambda v: UNKNOWN if v is None or v == "" else str(v))
    frame = pd.DataFrame({col.USER: users.astype(np.int64), name: labels}).drop_duplicates()
    twice = frame[col.USER].duplicated()
    if twice.any():
        raise DataError(f"{file}: user {int(frame[col.USER][twice].iloc[0])} has two segments")
    return frame.set_index(col.USER)[name].rename(str(name))


def user_segments(
    attribute: str,
    events: pd.DataFrame,
    carried: np.ndarray,
    *,
    pre_events: pd.DataFrame | None = None,
    catalog: str | os.PathLike | None = None,
) -> pd.Series:
    """Each user's segment by ``attribute`` (see the module docstring).

    Args:
        attribute: ``new``, ``genre`` or a file.
        events: the logs given, also events outside the experiment (history for ``new``).
        carried: which of ``events`` carry the experiment.
        pre_events: an earlier period's logs (history too).
        catalog: the tracks' catalog file (for ``genre``).

    Returns:
        Users (the index) to segment labels, named after the attribute.

    Raises:
        ConfigError: ``genre`` without a catalog, or an attribute that is neither built in nor
            looks like a file.
        DataError: the file or the catalog is missing or malformed.
    """
    check_attribute(attribute, catalog)
    inside = events.loc[carried]
    if attribute == NEW:
        frames = [events] + ([pre_events] if pre_events is not None else [])
        user = np.concatenate([f[ev.USER].to_numpy(dtype=np.int64) for f in frames])
        timestamp = np.concatenate([f[ev.TIMESTAMP].to_numpy(dtype=np.int64) for f in frames])
        return new_or_returning(user, timestamp, int(inside[ev.TIMESTAMP].min()))
    if attribute == GENRE:
        return first_track_genre(inside[ev.USER].to_numpy(), inside[ev.TIMESTAMP].to_numpy(),
                                 inside[ev.TRACK].to_numpy(), catalog_genres(catalog))
    return read_segment_file(attribute)


def check_attribute(attribute: str, catalog: str | os.PathLike | None = None) -> None:
    """Check a ``--segment`` attribute before any log is read.

    Raises:
        ConfigError: ``genre`` without a catalog, or neither a built-in attribute nor a file name.
        DataError: the segment file or the catalog does not exist.
    """
    if attribute == NEW:
        return
    if attribute == GENRE:
        if catalog is None:
            raise ConfigError("--segment genre needs --catalog FILE (the tracks' genres)")
        if not Path(catalog).is_file():
            raise DataError(f"--catalog: no such file {str(catalog)!r}")
        return
    path = Path(attribute)
    if path.suffix.lower() not in (".csv", ".jsonl", ".json") and len(path.parts) < 2:
        raise ConfigError(f"--segment: unknown attribute {attribute!r} (known: "
                          f"{', '.join(BUILT_IN)}; or a CSV or JSON-lines file of user, segment)")
    if not path.is_file():
        raise DataError(f"--segment: no such segment file {attribute!r}")
