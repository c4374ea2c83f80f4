"""The plan's [analysis] settings of decisions: primary metric, guardrails, sequential, looks."""

from __future__ import annotations

import pytest

from botify.errors import ConfigError
from botify.experiment.plan import load_plan
from tests.botify.experiment.test_plan import GOOD, write


def test_the_defaults(tmp_path):
    analysis = load_plan(write(tmp_path, GOOD)).analysis
    assert analysis.primary == "mean_time_per_session"
    assert analysis.guardrails is None  # the defaults of botify analyze
    assert analysis.sequential is False and analysis.looks is None


def test_settings_read_back(tmp_path):
    text = GOOD + """
[analysis]
primary = "ratio_time_per_session"
guardrails = ["mean_request_latency:+2", "sessions:-5%"]
sequential = true
looks = 4
"""
    analysis = load_plan(write(tmp_path, text)).analysis
    assert analysis.primary == "ratio_time_per_session"
    assert analysis.guardrails == ("mean_request_latency:+2", "sessions:-5%")
    assert analysis.sequential is True and analysis.looks == 4
    text = GOOD + '\n[analysis]\nguardrails = ["none"]\nlooks = "day"\n'
    analysis = load_plan(write(tmp_path, text)).analysis
    assert analysis.guardrails == ("none",) and analysis.looks == "day"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('primary = "fun"', "analysis.primary: unknown metric 'fun'"),
        ('guardrails = ["sessions:+2%"]', "analysis.guardrails[0]: 'sessions:+2%': higher "
         "sessions is better, so its margin is how far it may fall: write sessions:-2%"),
        ('guardrails = ["sessions:-2%", "latency"]', "analysis.guardrails[1]: 'latency' is not "
         "METRIC:MARGIN"),
        ('guardrails = ["mean_time_per_session:-1%"]',
         "analysis.guardrails[0]: mean_time_per_session is the primary metric"),
        ('guardrails = "sessions:-2%"', "analysis.guardrails: must be an array"),
        ("sequential = 1", "analysis.sequential: must be true or false"),
        ("looks = 0", "analysis.looks: must be a number of looks from 1 to 100 or 'day'"),
        ('looks = "weekly"', "analysis.looks: must be a number of looks"),
    ],
    ids=["primary", "guardrail-sign", "guardrail-form", "guardrail-primary", "guardrails-type",
         "sequential", "looks-zero", "looks-word"],
)
def test_every_mistake_names_the_file_and_the_key(tmp_path, settings, message):
    path = write(tmp_path, GOOD + f"\n[analysis]\n{settings}\n")
    with pytest.raises(ConfigError) as caught:
        load_plan(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
