"""The analyze() entry point on generated logs whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from botify.analysis import columns as col
from botify.analysis.analyze import analyze
from botify.analysis.ratio import RATIO_TIME_PER_SESSION, RATIO_TRACKS_PER_SESSION, RATIOS
from botify.analysis.synthetic import generate_events
from botify.errors import DataError
from botify.events import read_events


@pytest.fixture(scope="module")
def events(ab_logs):
    return read_events([ab_logs["post"]])


@pytest.fixture(scope="module")
def analysis(events):
    return analyze(events, "AB", configured=["random", "sticky"])


def test_effects_table_has_the_course_columns_then_ours(analysis):
    assert tuple(analysis.effects.columns[:9]) == col.EFFECT_COLUMNS
    # Each session-level ratio right after its per-user counterpart.
    assert analysis.effects[col.METRIC].tolist() == [
        col.TIME, col.SESSIONS, col.MEAN_REQUEST_LATENCY, col.MEAN_TRACKS_PER_SESSION,
        RATIO_TRACKS_PER_SESSION, col.MEAN_TIME_PER_SESSION, RATIO_TIME_PER_SESSION,
    ]
    assert set(analysis.effects[col.TREATMENT]) == {"T1"}


def test_numbers_equal_scipy_on_the_per_user_values(analysis):
    users = analysis.users
    control = users[users[col.TREATMENT] == "C"]
    treated = users[users[col.TREATMENT] == "T1"]
    for row in analysis.effects[analysis.effects[col.METRIC].isin(col.METRICS)].itertuples():
        c, t = control[row.metric].to_numpy(), treated[row.metric].to_numpy()
        reference = scipy_stats.ttest_ind(t, c, equal_var=False)
        interval = reference.confidence_interval(0.95)
        assert round(row.p_value, 9) == round(float(reference.pvalue), 9)
        assert round(row.lower, 9) == round(interval.low / c.mean() * 100, 9)
        assert round(row.upper, 9) == round(interval.high / c.mean() * 100, 9)
        assert round(row.control_mean, 9) == round(c.mean(), 9)
        assert row.significant == (row.lower > 0 or row.upper < 0)


def test_the_known_effect_is_found(analysis):
    time = analysis.effects.set_index(col.METRIC).loc[col.MEAN_TIME_PER_SESSION]
    assert time[col.SIGNIFICANT] and time[col.EFFECT] > 5


def test_treatments_are_named_by_their_recommender(analysis):
    assert dict(zip(analysis.treatments[col.TREATMENT], analysis.treatments[col.RECOMMENDER],
                    strict=True)) == {"C": "random", "T1": "sticky"}
    assert set(analysis.effects[col.RECOMMENDER]) == {"sticky"}


def test_open_sessions_are_reported(analysis):
    assert any("not closed" in warning for warning in analysis.warnings)


def test_no_srm_for_hash_assignment_and_srm_when_users_are_lost(events, analysis):
    assert not analysis.srm.mismatch
    t1 = np.array([e["AB"] == "T1" for e in events["experiments"]])
    lost = events[~t1 | (events["user"] % 3 != 0)].reset_index(drop=True)
    broken = analyze(lost, "AB")
    assert broken.srm.mismatch
    assert broken.warnings[0].startswith("SAMPLE RATIO MISMATCH")


def test_holm_across_treatments_matches_statsmodels():
    events = generate_events(600, recommenders=("a", "b", "c", "d"), seed=5,
                             time_effects={"T2": 1.15})
    result = analyze(events, "AB")
    for _, rows in result.effects.groupby(col.METRIC):
        expected = multipletests(rows[col.P_VALUE], method="holm")[1]
        np.testing.assert_allclose(rows[col.P_VALUE_HOLM], expected, atol=1e-12)
        assert (rows[col.SIGNIFICANT_HOLM] == (expected < 0.05)).all()
    assert set(result.effects[col.TREATMENT]) == {"T1", "T2", "T3"}


def test_cuped_narrows_the_intervals(ab_logs, events, analysis):
    adjusted = analyze(events, "AB", pre_events=read_events([ab_logs["pre"]]))
    # Every per-user metric is adjusted; the session-level ratios are not.
    assert (adjusted.effects[col.CUPED] == adjusted.effects[col.METRIC].isin(col.METRICS)).all()
    raw = analysis.effects.set_index(col.METRIC)
    cuped = adjusted.effects.set_index(col.METRIC)
    for metric in (col.TIME, col.SESSIONS, col.MEAN_TIME_PER_SESSION):
        assert adjusted.cuped[metric].variance_reduction > 0.05
        assert (cuped.loc[metric, col.UPPER] - cuped.loc[metric, col.LOWER]) < (
            raw.loc[metric, col.UPPER] - raw.loc[metric, col.LOWER]
        )
    # The raw means are still shown.
    np.testing.assert_allclose(cuped[col.CONTROL_MEAN], raw[col.CONTROL_MEAN])


def test_a_missing_experiment_is_a_clear_error(events):
    with pytest.raises(DataError, match=r"no event carries the experiment 'NOPE'.*AB"):
        analyze(events, "NOPE")


def test_a_control_without_users_is_a_clear_error(events):
    with pytest.raises(DataError, match="control 'T7' of 'AB' has no users"):
        analyze(events, "AB", control="T7")


def test_events_without_the_experiment_are_ignored_with_a_warning(events):
    part = events.copy()
    part.loc[:99, "experiments"] = [{} for _ in range(100)]
    result = analyze(part, "AB")
    assert any("do not carry the experiment" in w for w in result.warnings)


def test_a_configured_treatment_without_users_gives_reasons_not_exceptions(events):
    result = analyze(events, "AB", configured=["random", "sticky", "ghost"])
    ghost = result.effects[result.effects[col.TREATMENT] == "T2"]
    assert len(ghost) == len(col.METRICS) + len(RATIOS)
    assert (ghost[col.REASON] == "no users in the treatment").all()
    assert not ghost[col.SIGNIFICANT].any()
    assert result.srm.mismatch  # a third of the users expected in T2 never came
