"""Fixtures of the analysis tests: small synthetic logs written in the service's format."""

from __future__ import annotations

import pytest

from botify.analysis.synthetic import generate_events, write_events


@pytest.fixture(scope="session")
def ab_logs(tmp_path_factory):
    """A two-period A/B log (period 0 = before, period 1 = the experiment), T1 +10% time."""
    root = tmp_path_factory.mktemp("ab")
    options = dict(experiment="AB", recommenders=("random", "sticky"), seed=7)
    pre = write_events(generate_events(1500, period=0, **options), root / "pre" / "data.jsonl")
    post = write_events(
        generate_events(1500, period=1, time_effects={"T1": 1.1}, open_sessions=0.05, **options),
        root / "post" / "data.jsonl",
    )
    return {"pre": pre.parent, "post": post.parent}
