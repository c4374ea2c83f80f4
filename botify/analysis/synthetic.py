"""Synthetic event logs with a known truth, for tests, benchmarks and the notebooks' examples.

Users have a latent activity that persists across periods (so an earlier period's metrics predict
the later one's, which CUPED exploits), are assigned to treatments exactly as the service assigns
them (:func:`botify.experiments.user_hash`), and play whole sessions: ``next`` events closed by a
``last`` event, one listen every few minutes, never overlapping for one user.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from botify import events as ev
from botify.experiments import treatment_name, user_hash
from botify.files import atomic_open

TRACK_PERIOD_MS = 180_000
"""Milliseconds between two requests of a session (a three-minute track)."""


def assign(users: np.ndarray, experiment: str, n_treatments: int) -> np.ndarray:
    """The treatment index of every user, as the service assigns them."""
    return np.fromiter(
        (user_hash(experiment, int(user)) % n_treatments for user in users),
        dtype=np.int64,
        count=len(users),
    )


def generate_events(
    n_users: int = 1000,
    *,
    experiment: str = "AB",
    recommenders: Sequence[str] = ("control", "treatment"),
    time_effects: Mapping[str, float] | None = None,
    sessions_per_user: float = 3.0,
    tracks_per_session: float = 8.0,
    period: int = 0,
    open_sessions: float = 0.0,
    n_tracks: int = 10_000,
    start_ms: int = 1_700_000_000_000,
    seed: int = 0,
) -> pd.DataFrame:
    """A synthetic event log as :func:`botify.events.read_events` would return it.

    Args:
        n_users: users ``0 .. n_users - 1``.
        experiment: the experiment name; the ``experiments`` field carries the users' assignment.
        recommenders: the recommender serving each treatment (treatment 0 is ``C``).
        time_effects: treatment name -> multiplicative effect on the listened fraction and on the
            session length (``{"T1": 1.1}``: 10% more); treatments not named get 1.0.
        sessions_per_user: mean sessions per user (at least one each).
        tracks_per_session: mean events per session (at least one each).
        period: which period (day, >= 0) to generate; users keep their latent activity across
            periods, the sessions themselves are fresh, and timestamps move a day forward each.
        open_sessions: share of users whose last session has no ``last`` event (still open).
        n_tracks: the catalog size (track ids ``0 .. n_tracks - 1``).
        start_ms: epoch milliseconds at which period 0 starts.
        seed: the random seed; the same seed gives the same users in every period.

    Returns:
        A DataFrame with the columns of :func:`botify.events.read_events`, in timestamp order.
    """
    effects = dict(time_effects or {})
    user_rng = np.random.default_rng([seed, 0])
    rng = np.random.default_rng([seed, 1, period])
    users = np.arange(n_users, dtype=np.int64)
    arm = assign(users, experiment, len(recommenders))
    arm_effect = np.array([effects.get(treatment_name(i), 1.0) for i in range(len(recommenders))])
    activity = user_rng.lognormal(0.0, 0.5, size=n_users)
    taste = user_rng.beta(4.0, 3.0, size=n_users)

    n_sessions = 1 + rng.poisson(np.maximum(sessions_per_user - 1, 0) * activity)
    session_user = np.repeat(users, n_sessions)
    lift = arm_effect[arm[session_user]]
    mean_extra = np.maximum(tracks_per_session - 1, 1e-9) * activity[session_user] * lift
    n_events = 1 + rng.geometric(1.0 / (1.0 + mean_extra)) - 1
    total = int(n_events.sum())

    session_of = np.repeat(np.arange(len(n_events)), n_events)
    first = np.zeros(total, dtype=bool)
    first[np.cumsum(n_events) - n_events] = True
    last = np.zeros(total, dtype=bool)
    last[np.cumsum(n_events) - 1] = True
    position = np.arange(total) - np.repeat(np.cumsum(n_events) - n_events, n_events)

    # Sessions of a user follow each other with a gap, so they never interleave.
    duration = n_events * TRACK_PERIOD_MS
    gap = rng.exponential(3_600_000, size=len(n_events)).astype(np.int64) + TRACK_PERIOD_MS
    session_start = np.cumsum(duration + gap) - (duration + gap)
    user_first_session = np.cumsum(n_sessions) - n_sessions
    session_start -= np.repeat(session_start[user_first_session], n_sessions)
    session_start += np.repeat(rng.integers(0, 3_600_000, size=n_users), n_sessions)
    session_start += start_ms + period * 86_400_000
    jitter = rng.integers(0, 1000, total)
    timestamp = session_start[session_of] + position * TRACK_PERIOD_MS + jitter

    event_user = session_user[session_of]
    time = np.clip(rng.normal(taste[event_user] * lift[session_of], 0.25), 0.0, 1.0).round(2)
    time[first] = 1.0
    latency = rng.gamma(2.0, 0.002, size=total) * (1.0 + 0.2 * arm[event_user])

    keep = np.ones(total, dtype=bool)
    if open_sessions > 0:
        # Drop the closing event of the last session of some users: that session stays open.
        opened = rng.random(n_users) < open_sessions
        user_last_event = np.cumsum(np.bincount(event_user, minlength=n_users)) - 1
        keep[user_last_event[opened & (n_events[np.cumsum(n_sessions) - 1] > 1)]] = False

    message = np.where(last, "last", "next")
    recommendation = rng.integers(0, n_tracks, size=total)
    order = np.argsort(timestamp[keep], kind="stable")
    labels = [treatment_name(i) for i in range(len(recommenders))]
    user_arm = arm[event_user[keep]][order]
    frame = pd.DataFrame(
        {
            ev.MESSAGE: pd.Series(message[keep][order], dtype="string"),
            ev.TIMESTAMP: timestamp[keep][order],
            ev.USER: event_user[keep][order],
            ev.TRACK: rng.integers(0, n_tracks, size=total)[keep][order],
            ev.TIME: time[keep][order],
            ev.LATENCY: latency[keep][order],
            ev.RECOMMENDATION: pd.array(
                np.where(last, -1, recommendation)[keep][order], dtype="Int64"
            ),
            ev.RECOMMENDER: pd.Series(
                np.asarray(recommenders, dtype=object)[user_arm], dtype="string"
            ),
            ev.EXPERIMENTS: [{experiment: labels[a]} for a in user_arm],
        }
    )
    frame.loc[frame[ev.MESSAGE] == "last", ev.RECOMMENDATION] = pd.NA
    return frame


def write_events(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write events as a JSON-lines log (the service's format), atomically.

    Returns:
        The path written.
    """
    path = Path(path)
    columns = [
        ev.MESSAGE, ev.TIMESTAMP, ev.USER, ev.TRACK, ev.TIME, ev.LATENCY,
        ev.RECOMMENDATION, ev.EXPERIMENTS, ev.RECOMMENDER,
    ]
    values = [
        frame[ev.MESSAGE].tolist(),
        frame[ev.TIMESTAMP].tolist(),
        frame[ev.USER].tolist(),
        frame[ev.TRACK].tolist(),
        frame[ev.TIME].tolist(),
        frame[ev.LATENCY].tolist(),
        [None if pd.isna(r) else int(r) for r in frame[ev.RECOMMENDATION]],
        frame[ev.EXPERIMENTS].tolist(),
        frame[ev.RECOMMENDER].tolist(),
    ]
    with atomic_open(path, "wb") as handle:
        for row in zip(*values, strict=True):
            handle.write(orjson.dumps(dict(zip(columns, row, strict=True))))
            handle.write(b"\n")
    return path
