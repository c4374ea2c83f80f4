"""Sequential intervals, ratio rows and looks in analyze(), against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from botify.analysis import columns as col
from botify.analysis.analyze import analyze
from botify.analysis.looks import DAY_MS, cuts, parse_looks
from botify.analysis.ratio import RATIOS, RatioStats, ratio_effect
from botify.analysis.sequential import sequential_effect
from botify.analysis.stats import SampleStats
from botify.analysis.synthetic import generate_events
from botify.errors import ConfigError

OPTIONS = dict(experiment="AB", recommenders=("random", "sticky", "i2i"), seed=21)


@pytest.fixture(scope="module")
def events():
    """Three days of one experiment, more users every day: later looks see more of them."""
    days = [generate_events(300 + 200 * p, period=p, time_effects={"T1": 1.12}, **OPTIONS)
            for p in range(3)]
    return pd.concat(days, ignore_index=True)


def test_cuts_by_hand():
    assert cuts(np.array([0, 99]), 4) == [25, 50, 75, 100]
    assert cuts(np.array([5, 5]), 3) == [6]
    start = 3 * DAY_MS + 1000
    assert cuts(np.array([start, start + 2 * DAY_MS]), "day") == [
        4 * DAY_MS, 5 * DAY_MS, start + 2 * DAY_MS + 1]
    assert parse_looks("7") == 7 and parse_looks("Day") == "day" and parse_looks(None) is None
    for bad in ("0", "101", "2.5", "weekly", True):
        with pytest.raises(ConfigError, match="--looks: must be a number of looks"):
            parse_looks(bad)


def test_sequential_and_ratio_rows_equal_their_functions(events):
    result = analyze(events, "AB", sequential=True, guardrails=())
    users = result.users
    control = users[users[col.TREATMENT] == "C"]
    for row in result.effects.itertuples():
        treated = users[users[col.TREATMENT] == row.treatment]
        if row.metric in RATIOS:
            numerator, denominator = RATIOS[row.metric]
            c = RatioStats.of(control[numerator], control[denominator])
            t = RatioStats.of(treated[numerator], treated[denominator])
            fixed = ratio_effect(c, t)
            always = sequential_effect(c.linearized(), t.linearized(), baselines=(c.ratio,
                                                                                   t.ratio))
            assert round(row.control_mean, 9) == round(control[numerator].sum()
                                                       / control[denominator].sum(), 9)
        else:
            c, t = SampleStats.of(control[row.metric]), SampleStats.of(treated[row.metric])
            fixed = None
            always = sequential_effect(c, t)
        if fixed is not None:
            assert (round(row.lower, 9), round(row.upper, 9)) == (round(fixed.lower, 9),
                                                                  round(fixed.upper, 9))
        assert round(row.seq_lower, 9) == round(always.lower, 9)
        assert round(row.seq_upper, 9) == round(always.upper, 9)
        assert round(row.seq_p_value, 12) == round(always.p_value, 12)
        assert row.seq_lower <= row.lower and row.seq_upper >= row.upper  # wider: always valid
    # The decisions read the always-valid Holm p-values.
    primary = result.effects[result.effects[col.METRIC] == col.MEAN_TIME_PER_SESSION]
    np.testing.assert_allclose(result.decisions[col.SEQ_P_VALUE_HOLM],
                               primary[col.SEQ_P_VALUE_HOLM])
    assert result.decisions[col.REASON].str.contains("always-valid Holm p").all()
    fixed_only = analyze(events, "AB", guardrails=())
    assert fixed_only.effects[col.SEQ_LOWER].isna().all()
    assert fixed_only.decisions[col.REASON].str.contains(r"\(Holm p").all()


def test_each_look_equals_the_analysis_of_the_log_cut_there(events):
    result = analyze(events, "AB", looks=3)
    looks = result.looks
    moments = cuts(events["timestamp"].to_numpy(), 3)
    assert looks["look"].unique().tolist() == [1, 2, 3]
    assert looks["until"].unique().tolist() == moments
    for number, until in enumerate(moments, 1):
        early = analyze(events[events["timestamp"] < until].reset_index(drop=True), "AB",
                        sequential=True)
        expected = early.effects[early.effects[col.METRIC] == col.MEAN_TIME_PER_SESSION]
        found = looks[looks["look"] == number]
        for column in (col.EFFECT, col.LOWER, col.UPPER, col.SEQ_LOWER, col.SEQ_UPPER,
                       col.P_VALUE_HOLM, col.SEQ_P_VALUE_HOLM, col.TREATMENT_USERS):
            np.testing.assert_allclose(found[column].to_numpy(float),
                                       expected[column].to_numpy(float), rtol=1e-12)
    # Later looks see at least as many users, and the last one is the whole experiment.
    users = looks.groupby("look")[col.TREATMENT_USERS].sum().to_numpy()
    assert (np.diff(users) >= 0).all() and users[-1] > users[0]
    last = looks[looks["look"] == 3].set_index(col.TREATMENT)
    final = result.effects[result.effects[col.METRIC] == col.MEAN_TIME_PER_SESSION]
    np.testing.assert_allclose(last.loc[final[col.TREATMENT], col.EFFECT], final[col.EFFECT])


def test_looks_by_day(events):
    result = analyze(events, "AB", looks="day")
    span = events["timestamp"].agg(["min", "max"]).to_numpy()
    assert result.looks["until"].max() == span[1] + 1
    assert result.looks["look"].nunique() == len(range(span[0] // DAY_MS + 1,
                                                       span[1] // DAY_MS + 1)) + 1
