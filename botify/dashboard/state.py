"""The dashboard's numbers, kept up to date as the event log grows.

Events are taken in as they are read (:class:`~botify.dashboard.follow.LogFollower`) and cut into
sessions incrementally, with the course's definitions of :mod:`botify.analysis.sessions`: per user
and treatment, in timestamp order, a session runs until a ``last`` event. Only what the page needs
is kept: the closed sessions (user, treatment, start, tracks, time, latency: a few numbers each),
each user's open session, the events per treatment and the request latencies per recommender as a
histogram; never the events themselves. Each snapshot then computes the per-user metrics, the
Welch intervals against the control, the SRM check and the session time over time with the very
functions ``botify analyze`` uses, so on the same events its numbers are the report's.

Events from several processes' files are read one file after the other, so an event written to
one file while another was being read can show up a look later than a newer one. Events are
therefore held until they are :data:`HOLD_MS` older than the look that found them (or have waited
:data:`MAX_WAIT_S`), and taken in timestamp order.
"""

from __future__ import annotations

import gc
import math
import operator
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import orjson
import pandas as pd

from botify import events as ev
from botify.analysis import columns as col
from botify.analysis.analyze import ALPHA, _treatment_order, treatment_names
from botify.analysis.sessions import session_length_over_time, user_metrics
from botify.analysis.stats import SampleStats, holm, srm_check, welch_effect
from botify.dashboard.follow import LogFollower
from botify.experiments import CONTROL

HOLD_MS = 1000
"""An event is taken in once the look that read it started this many ms after its timestamp."""
MAX_WAIT_S = 5.0
"""...or once it has waited this long (a clock ahead of this machine's, a log of the future)."""
PRIMARY = col.MEAN_TIME_PER_SESSION
_GET_REQUIRED = operator.itemgetter(ev.MESSAGE, ev.TIMESTAMP, ev.USER, ev.TIME, ev.LATENCY)

# Request latency histogram: log-spaced bins from 1 µs to 100 s, in ms.
_LATENCY_EDGES = np.logspace(-3, 5, 401)
_LATENCY_MIDS = np.sqrt(_LATENCY_EDGES[:-1] * _LATENCY_EDGES[1:])
_PERCENTILES = (50, 95, 99)


def parse_lines(lines: Sequence[bytes]) -> tuple[dict[str, np.ndarray], int]:
    """The columns of event lines, and how many lines were not events (skipped).

    Returns:
        ``last`` (bool), ``timestamp``, ``user``, ``time``, ``latency`` (s), ``recommender`` and
        ``experiments`` (object arrays), in the lines' order.
    """
    enabled = gc.isenabled()
    gc.disable()  # millions of small dicts otherwise trigger the collector over and over
    try:
        try:
            events = list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:
            events = [_loads(line) for line in lines]
        bad = 0
        try:
            columns = list(zip(*map(_GET_REQUIRED, events), strict=True)) if events else [()] * 5
            if any(None in values for values in columns):
                raise TypeError
        except (KeyError, TypeError):  # a line that is not an event: the slower filter
            events = [e for e in events if _is_event(e)]
            bad = len(lines) - len(events)
            columns = list(zip(*map(_GET_REQUIRED, events), strict=True)) if events else [()] * 5
        n = len(events)
        try:
            out = {
                "last": np.asarray(columns[0], dtype=object) == "last",
                ev.TIMESTAMP: np.fromiter(columns[1], dtype=np.int64, count=n),
                ev.USER: np.fromiter(columns[2], dtype=np.int64, count=n),
                ev.TIME: np.fromiter(columns[3], dtype=np.float64, count=n),
                ev.LATENCY: np.fromiter(columns[4], dtype=np.float64, count=n),
                ev.RECOMMENDER: _objects([e.get(ev.RECOMMENDER) for e in events]),
                ev.EXPERIMENTS: _objects([e.get(ev.EXPERIMENTS) for e in events]),
            }
        except (TypeError, ValueError):  # a field of the wrong type somewhere: line by line
            if len(lines) <= 1:
                return parse_lines([])[0], len(lines)
            return _parse_one_by_one(lines)
        del events
        return out, bad
    finally:
        if enabled:
            gc.enable()


def _objects(values: Sequence) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


def _loads(line: bytes):
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _is_event(event) -> bool:
    return isinstance(event, dict) and all(event.get(key) is not None for key in ev.REQUIRED)


def _parse_one_by_one(lines: Sequence[bytes]) -> tuple[dict[str, np.ndarray], int]:
    parts, bad = [], 0
    for line in lines:
        columns, skipped = parse_lines([line])
        bad += skipped
        if not skipped:
            parts.append(columns)
    return concat_columns(parts), bad


def concat_columns(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Columns of several batches, one after the other."""
    if not parts:
        return parse_lines([])[0]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def _take(columns: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {key: values[index] for key, values in columns.items()}


class _Growing:
    """Columns appended to in batches, concatenated when read."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.parts: list[dict[str, np.ndarray]] = []
        self.length = 0

    def append(self, columns: dict[str, np.ndarray]) -> None:
        n = len(next(iter(columns.values())))
        if n:
            self.parts.append(columns)
            self.length += n

    def columns(self) -> dict[str, np.ndarray]:
        if len(self.parts) > 1:
            self.parts = [{k: np.concatenate([p[k] for p in self.parts]) for k in self.names}]
        if not self.parts:
            return {k: np.zeros(0) for k in self.names}
        return self.parts[0]


_SESSION = ("user", "code", "start", "tracks", "time", "latency")


class ExperimentState:
    """One experiment's sessions and counts, as its events come in (in timestamp order)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.labels: list[str] = []
        self._codes: dict[str, int] = {}
        self.event_counts = np.zeros(0, dtype=np.int64)
        self.served: Counter[tuple[int, str]] = Counter()
        self.closed = _Growing(_SESSION)
        self.open = {key: np.zeros(0, dtype=np.float64) for key in _SESSION}
        for key in ("user", "code", "start", "tracks"):
            self.open[key] = np.zeros(0, dtype=np.int64)
        self.latency: dict[str, np.ndarray] = {}
        self.latency_sums: dict[str, float] = {}
        self.last_timestamp = 0
        self.version = 0

    def code(self, label: str) -> int:
        code = self._codes.get(label)
        if code is None:
            code = self._codes[label] = len(self.labels)
            self.labels.append(label)
            self.event_counts = np.append(self.event_counts, 0)
        return code

    def add(self, columns: dict[str, np.ndarray], treatments: np.ndarray) -> None:
        """Take in events of this experiment (in timestamp order) and their treatments."""
        n = len(treatments)
        if n == 0:
            return
        found, labels = pd.factorize(treatments)
        mine = np.asarray([self.code(str(label)) for label in labels], dtype=np.int64)
        codes = mine[found]
        self.event_counts += np.bincount(codes, minlength=len(self.labels))
        served, names = pd.factorize(columns[ev.RECOMMENDER])  # None: -1
        known = served >= 0
        pairs, counts = np.unique(codes[known] * len(names) + served[known], return_counts=True)
        for pair, count in zip(pairs.tolist(), counts.tolist(), strict=True):
            code, recommender = divmod(pair, len(names))
            self.served[(code, str(names[recommender]))] += count
        self._add_latency(served, [str(name) for name in names], columns[ev.LATENCY])
        self._sessionize(codes, columns)
        self.last_timestamp = max(self.last_timestamp, int(columns[ev.TIMESTAMP].max()))
        self.version += 1

    def _add_latency(self, served: np.ndarray, names: list[str], latency: np.ndarray) -> None:
        milliseconds = latency * 1000
        bins = np.clip(np.searchsorted(_LATENCY_EDGES, milliseconds, side="right") - 1,
                       0, len(_LATENCY_MIDS) - 1)
        size = len(_LATENCY_MIDS)
        known = served >= 0
        counts = np.bincount(served[known] * size + bins[known],
                             minlength=len(names) * size).reshape(len(names), size)
        sums = np.bincount(served[known], weights=milliseconds[known], minlength=len(names))
        for code, name in enumerate(names):
            if name in self.latency:
                self.latency[name] += counts[code]
            else:
                self.latency[name] = counts[code].copy()
            self.latency_sums[name] = self.latency_sums.get(name, 0.0) + float(sums[code])

    def _sessionize(self, codes: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        """:func:`botify.analysis.sessions.sessionize`, carrying each user's open session over:
        it comes first in its group, as one row of its sums."""
        opened = self.open
        k = len(opened["user"])
        n = len(codes)
        user = np.concatenate([opened["user"], columns[ev.USER]])
        code = np.concatenate([opened["code"], codes])
        stamp = np.concatenate([opened["start"], columns[ev.TIMESTAMP]])
        carried = np.concatenate([np.zeros(k, np.int8), np.ones(n, np.int8)])
        order = np.lexsort((stamp, carried, code, user))  # stable: ties keep the file order
        user_s, code_s, stamp_s = user[order], code[order], stamp[order]
        last_s = np.concatenate([np.zeros(k, bool), columns["last"]])[order]
        tracks_s = np.concatenate([opened["tracks"], np.ones(n, np.int64)])[order]
        time_s = np.concatenate([opened["time"], columns[ev.TIME]])[order]
        latency_s = np.concatenate([opened["latency"], columns[ev.LATENCY] * 1000])[order]

        total = k + n
        start = np.empty(total, dtype=bool)
        start[0] = True
        start[1:] = (user_s[1:] != user_s[:-1]) | (code_s[1:] != code_s[:-1]) | last_s[:-1]
        starts = np.flatnonzero(start)
        ends = np.append(starts[1:], total) - 1
        closed = last_s[ends]
        sums = {
            "user": user_s[starts],
            "code": code_s[starts],
            "start": stamp_s[starts],
            "tracks": np.add.reduceat(tracks_s, starts),
            "time": np.add.reduceat(time_s, starts),
            "latency": np.add.reduceat(latency_s, starts),
        }
        self.closed.append({key: values[closed] for key, values in sums.items()})
        self.open = {key: values[~closed] for key, values in sums.items()}

    def recommender_of(self) -> dict[str, str]:
        """As :func:`botify.analysis.analyze._recommenders`: the only recommender seen, or all of
        them joined by ``+``, most frequent first."""
        found: dict[str, list[tuple[int, str]]] = {}
        for (code, name), count in self.served.items():
            if isinstance(name, str):
                found.setdefault(self.labels[code], []).append((-count, name))
        return {t: "+".join(name for _, name in sorted(seen)) for t, seen in found.items()}

    def sessions(self) -> pd.DataFrame:
        """The closed sessions as :func:`botify.analysis.sessions.sessionize` gives them."""
        data = self.closed.columns()
        labels = np.asarray(self.labels, dtype=object)
        codes = data["code"].astype(np.int64)
        order = np.lexsort((data["start"], codes, data["user"]))
        return pd.DataFrame(
            {
                col.USER: data["user"][order].astype(np.int64),
                col.TREATMENT: labels[codes[order]] if len(order) else np.array([], object),
                col.SESSION_START: data["start"][order].astype(np.int64),
                col.TRACKS: data["tracks"][order].astype(np.int64),
                col.TIME: data["time"][order].astype(np.float64),
                col.LATENCY: data["latency"][order].astype(np.float64),
            }
        )


def _number(value) -> float | None:
    """A JSON number (None for NaN and infinities)."""
    value = float(value)
    return value if math.isfinite(value) else None


def summarize(
    state: ExperimentState,
    *,
    control: str = CONTROL,
    alpha: float = ALPHA,
    configured: Sequence[str] | None = None,
    bins: int = 24,
) -> dict:
    """What the page shows of one experiment, as JSON-ready data.

    The treatments' counts, the primary metric's Welch intervals (and Holm's adjustment), the SRM
    check and the session time over time are computed as :func:`botify.analysis.analyze.analyze`
    computes them.
    """
    sessions = state.sessions()
    users = user_metrics(sessions)
    names = treatment_names(len(configured)) if configured else []
    treatments = sorted(set(state.labels) | set(names), key=_treatment_order)
    user_counts = users[col.TREATMENT].value_counts() if len(users) else pd.Series(dtype=int)
    session_counts = sessions[col.TREATMENT].value_counts()
    event_counts = dict(zip(state.labels, state.event_counts.tolist(), strict=True))
    served = state.recommender_of()
    for index, name in enumerate(names):
        served.setdefault(name, configured[index])

    observed = {t: int(user_counts.get(t, 0)) for t in treatments}
    srm = srm_check(observed, {t: 1.0 for t in names} if names else None)
    warnings: list[str] = []
    if srm.mismatch:
        warnings.append(
            f"SAMPLE RATIO MISMATCH: users per treatment {observed} are implausible under the "
            f"configured split (chi-square p = {srm.p_value:.2g} < {srm.threshold})"
        )
    open_sessions = len(state.open["user"])
    if open_sessions:
        warnings.append(
            f"{open_sessions} sessions ({int(state.open['tracks'].sum())} events) are still open: "
            f"not counted until their 'last' event"
        )

    values = users[PRIMARY].to_numpy(dtype=np.float64) if len(users) else np.zeros(0)
    user_treatment = users[col.TREATMENT].to_numpy() if len(users) else np.zeros(0, object)
    control_values = values[user_treatment == control]
    if len(control_values) == 0:
        warnings.append(f"the control {control!r} has no users with a complete session yet")
    baseline = float(control_values.mean()) if len(control_values) else math.nan
    control_stats = SampleStats.of(control_values)
    rows = []
    for name in treatments:
        treated = values[user_treatment == name]
        row = {
            "treatment": name,
            "recommender": served.get(name, ""),
            "users": observed[name],
            "sessions": int(session_counts.get(name, 0)),
            "events": int(event_counts.get(name, 0)),
            "mean": _number(treated.mean()) if len(treated) else None,
            "control": name == control,
        }
        if name != control:
            result = welch_effect(control_stats, SampleStats.of(treated), alpha=alpha,
                                  baseline=baseline)
            row.update(
                effect=_number(result.effect),
                lower=_number(result.lower),
                upper=_number(result.upper),
                significant=result.significant,
                p_value=_number(result.p_value),
                reason=result.reason or "",
            )
        rows.append(row)
    compared = [row for row in rows if not row["control"]]
    adjusted = holm([math.nan if r["p_value"] is None else r["p_value"] for r in compared])
    for row, p_holm in zip(compared, adjusted, strict=True):
        row["p_value_holm"] = _number(p_holm)
        row["significant_holm"] = bool(p_holm < alpha)

    over_time = session_length_over_time(sessions, bins=bins)
    series = [
        {
            "treatment": name,
            "points": [
                [int(r[col.SESSION_START]), _number(r[col.TIME]), _number(r[col.TIME_SE]),
                 int(r[col.SESSIONS])]
                for r in group.to_dict("records")
            ],
        }
        for name, group in over_time.groupby(col.TREATMENT, sort=False)
    ] if len(over_time) else []
    series.sort(key=lambda s: _treatment_order(s["treatment"]))

    latency = []
    for name in sorted(state.latency):
        counts = state.latency[name]
        n = int(counts.sum())
        cumulative = np.cumsum(counts)
        row = {"recommender": name, "events": n,
               "mean_ms": _number(state.latency_sums[name] / n) if n else None}
        for q in _PERCENTILES:
            where = int(np.searchsorted(cumulative, q / 100 * n)) if n else 0
            row[f"p{q}_ms"] = _number(_LATENCY_MIDS[min(where, len(_LATENCY_MIDS) - 1)])
        latency.append(row)

    return {
        "experiment": state.name,
        "control": control,
        "alpha": alpha,
        "metric": PRIMARY,
        "treatments": rows,
        "srm": {
            "observed": dict(zip(srm.treatments, srm.observed, strict=True)),
            "expected": dict(zip(srm.treatments, map(_number, srm.expected), strict=True)),
            "chi2": _number(srm.chi2),
            "p_value": _number(srm.p_value),
            "threshold": srm.threshold,
            "mismatch": srm.mismatch,
            "reason": srm.reason or "",
        },
        "over_time": series,
        "latency": latency,
        "open_sessions": open_sessions,
        "events": int(state.event_counts.sum()),
        "last_timestamp": state.last_timestamp,
        "warnings": warnings,
    }


class Dashboard:
    """Follows a log directory and keeps every experiment's state (or only ``experiment``'s).

    Args:
        logs: the log directory (``OUT/logs`` with a subdirectory per day works too).
        experiment: the experiment to follow; None: every experiment in the logs, the page
            showing the latest (the one of the newest event) unless asked for another.
        control: the control treatment.
        alpha: the significance level.
        configured: an experiment's name -> the recommenders of its treatments as configured
            (the SRM check's expected split; ``botify analyze`` takes them from the config).
    """

    def __init__(
        self,
        logs,
        experiment: str | None = None,
        *,
        control: str = CONTROL,
        alpha: float = ALPHA,
        configured: Callable[[str], Sequence[str] | None] | None = None,
    ) -> None:
        self.follower = LogFollower(logs)
        self.only = experiment
        self.control = control
        self.alpha = alpha
        self.configured = configured
        self.experiments: dict[str, ExperimentState] = {}
        self.malformed = 0
        self.without_experiment = 0
        self.refreshes = 0
        self.last_refresh_s = 0.0
        self._pending = concat_columns([])
        self._arrived = np.zeros(0, dtype=np.float64)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, dict]] = {}

    def refresh(self) -> int:
        """Read what the logs gained and take it in; returns the events taken in."""
        began = time.perf_counter()
        taken = 0
        with self._lock:
            while True:
                look_ms = time.time_ns() // 1_000_000
                lines = self.follower.poll()
                columns, bad = parse_lines(lines)
                del lines
                self.malformed += bad
                taken += self._take_in(columns, look_ms)
                if not self.follower.more:
                    break
            self.refreshes += 1
        self.last_refresh_s = time.perf_counter() - began
        return taken

    def _take_in(self, columns: dict[str, np.ndarray], look_ms: int) -> int:
        now = time.monotonic()
        pending = concat_columns([self._pending, columns])
        arrived = np.concatenate([self._arrived, np.full(len(columns[ev.TIMESTAMP]), now)])
        ready = (pending[ev.TIMESTAMP] <= look_ms - HOLD_MS) | (arrived <= now - MAX_WAIT_S)
        self._pending = _take(pending, ~ready)
        self._arrived = arrived[~ready]
        if not ready.any():
            return 0
        batch = _take(pending, np.flatnonzero(ready))
        order = np.argsort(batch[ev.TIMESTAMP], kind="stable")
        batch = _take(batch, order)
        assignments = batch[ev.EXPERIMENTS]
        if self.only is not None:
            names = [self.only]
        else:
            found: set[str] = set()
            for assignment in assignments:
                if assignment.__class__ is dict:
                    found.update(assignment)
            names = sorted(found)
        carried_any = np.zeros(len(assignments), dtype=bool)
        for name in names:
            treatments = np.asarray(
                [a.get(name) if a.__class__ is dict else None for a in assignments], dtype=object
            )
            carried = np.not_equal(treatments, None)
            carried_any |= carried
            if not carried.any():
                continue
            state = self.experiments.get(name)
            if state is None:
                state = self.experiments[name] = ExperimentState(name)
            index = np.flatnonzero(carried)
            state.add(_take(batch, index), treatments[index])
        self.without_experiment += int((~carried_any).sum())
        return len(assignments)

    @property
    def pending(self) -> int:
        """Events read but not taken in yet (see :data:`HOLD_MS`)."""
        return len(self._arrived)

    def latest(self) -> str | None:
        """The experiment of the newest event taken in."""
        if not self.experiments:
            return None
        return max(self.experiments.values(), key=lambda s: s.last_timestamp).name

    def snapshot(self, experiment: str | None = None) -> dict:
        """The page's data for ``experiment`` (default: the followed one, or the latest)."""
        with self._lock:
            name = experiment or self.only or self.latest()
            state = self.experiments.get(name) if name else None
            status = {
                "logs": str(self.follower.root),
                "experiments": sorted(self.experiments,
                                      key=lambda n: -self.experiments[n].last_timestamp),
                "refreshes": self.refreshes,
                "refresh_seconds": round(self.last_refresh_s, 3),
                "bytes_read": self.follower.bytes_read,
                "pending": self.pending,
                "malformed_lines": self.malformed,
                "events_without_experiment": self.without_experiment,
            }
            if state is None:
                message = (f"no event carries the experiment {name!r} yet" if name
                           else "waiting for events")
                return {**status, "experiment": name, "message": message}
            cached = self._cache.get(name)
            if cached is None or cached[0] != state.version:
                data = summarize(state, control=self.control, alpha=self.alpha,
                                 configured=self.configured(name) if self.configured else None)
                self._cache[name] = cached = (state.version, data)
            return {**status, **cached[1]}
