"""The liked model on a hand-made log whose lists are known."""

from __future__ import annotations

import pandas as pd
import pytest

from botify.errors import DataError
from botify.registry import MODELS
from botify.store.artifacts import PER_USER
from botify.training.model import TrainData
from botify.training.pipeline import TrainSettings, fit_model


def _fit(rows, **settings):
    sessions = pd.DataFrame(rows, columns=["user", "track", "time", "timestamp"])
    sessions["session"] = sessions["user"]
    settings = TrainSettings(models=["liked"], progress=False, **settings)
    _, artifacts = fit_model(MODELS.get("liked"), settings, TrainData(sessions))
    return {user: items.tolist() for user, items in artifacts["liked"].as_dict().items()}


# User 1 heard 10 through, 11 half, 12 through, then 10 again; user 2 skipped all it heard.
ROWS = [(1, 10, 0.9, 1), (2, 20, 0.3, 2), (1, 11, 0.5, 3), (1, 12, 0.95, 4), (2, 21, 0.8, 5),
        (1, 10, 0.85, 6)]


def test_registered_per_user_and_trained_when_named():
    cls = MODELS.get("liked")
    assert (cls.name, cls.kind, cls.default) == ("liked", PER_USER, False)


def test_distinct_tracks_heard_past_the_threshold_most_recent_first():
    # 21 at exactly 0.8 is not past it; user 2 has no list.
    assert _fit(ROWS) == {1: [10, 12]}
    assert _fit(ROWS, threshold=0.4) == {1: [10, 12, 11], 2: [21]}
    assert _fit(ROWS, user_k=1) == {1: [10]}
    # Of two listens at one timestamp, the later one in the logs is the more recent.
    assert _fit([(3, 30, 0.9, 7), (3, 31, 0.9, 7)]) == {3: [31, 30]}


def test_logs_without_a_track_heard_through_are_refused():
    with pytest.raises(DataError, match="liked.*no listen above 0.8"):
        _fit([row for row in ROWS if row[0] == 2])
