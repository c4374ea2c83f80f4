"""Sample sizes against statsmodels and by simulation; ``botify power`` on synthetic logs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower

from botify import events as ev
from botify.analysis import columns as col
from botify.analysis.power import parse_mde, plan, required_users, users_per_arm
from botify.analysis.ratio import RatioStats
from botify.analysis.sessions import sessionize_events, user_metrics
from botify.analysis.stats import SampleStats, cuped_fit, welch_effect
from botify.analysis.synthetic import generate_events, write_events
from botify.cli import main
from botify.errors import ConfigError, DataError
from botify.events import read_events


@pytest.mark.parametrize(
    ("variance", "mde", "alpha", "power", "treatments"),
    [(1.0, 0.2, 0.05, 0.8, 1), (4.0, 0.1, 0.01, 0.9, 1), (2.5, 0.3, 0.05, 0.8, 4)],
    ids=["default", "strict", "four-treatments"],
)
def test_users_match_statsmodels(variance, mde, alpha, power, treatments):
    expected = NormalIndPower().solve_power(
        effect_size=mde / math.sqrt(variance), alpha=alpha / treatments, power=power, ratio=1.0,
        alternative="two-sided",
    )
    # statsmodels also counts the far tail (significant with the wrong sign): about 1e-6 here.
    assert users_per_arm(variance, mde, alpha, power, treatments) == pytest.approx(
        expected, rel=1e-4
    )
    assert required_users(variance, mde, alpha, power, treatments) == math.ceil(
        users_per_arm(variance, mde, alpha, power, treatments)
    )


def test_bonferroni_splits_alpha_over_the_treatments():
    assert required_users(1.0, 0.1, 0.05, 0.8, 3) == required_users(1.0, 0.1, 0.05 / 3, 0.8, 1)
    assert required_users(1.0, 0.1, 0.05, 0.8, 3) > required_users(1.0, 0.1, 0.05, 0.8, 1)


def test_the_planned_users_detect_the_effect_with_the_planned_power():
    rng = np.random.default_rng(2)
    n = required_users(1.0, 0.2, alpha=0.05, power=0.8)
    detected = 0
    runs = 2000
    for _ in range(runs):
        control = SampleStats.of(rng.normal(0.0, 1.0, n))
        treatment = SampleStats.of(rng.normal(0.2, 1.0, n))
        detected += welch_effect(control, treatment, baseline=1.0).significant
    # The binomial sd of the rate is 0.009: 0.8 within four of them.
    assert detected / runs == pytest.approx(0.8, abs=0.036)


def test_cuped_reduction_and_relative_mde():
    base = plan(10.0, 4.0, 1000, 2.5, 0.05, relative=True)
    assert base.mde == pytest.approx(0.5)
    assert base.users_per_arm == required_users(4.0, 0.5)
    assert base.sessions_per_arm == math.ceil(base.users_per_arm * 2.5)
    assert base.total_users == 2 * base.users_per_arm
    halved = plan(10.0, 4.0, 1000, 2.5, 0.05, relative=True, variance_reduction=0.5)
    assert halved.users_per_arm == required_users(2.0, 0.5)
    absolute = plan(10.0, 4.0, 1000, 2.5, 0.5, relative=False, treatments=2)
    assert absolute.users_per_arm == required_users(4.0, 0.5, treatments=2)
    assert absolute.arms == 3 and absolute.relative_mde == pytest.approx(0.05)


@pytest.mark.parametrize(("text", "expected"), [("5%", (0.05, True)), (" 0.1 ", (0.1, False)),
                                               ("2.5%", (0.025, True)), ("3", (3.0, False))])
def test_parse_mde(text, expected):
    value, relative = parse_mde(text)
    assert value == pytest.approx(expected[0]) and relative == expected[1]


@pytest.mark.parametrize("text", ["", "%", "five", "-5%", "0", "nan", "inf%"])
def test_bad_mde_is_a_config_error(text):
    with pytest.raises(ConfigError, match="--mde"):
        parse_mde(text)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((1.0, 0.0), ConfigError),
        ((1.0, 0.1, 1.5), ConfigError),
        ((1.0, 0.1, 0.05, 1.0), ConfigError),
        ((1.0, 0.1, 0.05, 0.8, 0), ConfigError),
        ((math.nan, 0.1), DataError),
        ((-1.0, 0.1), DataError),
    ],
    ids=["mde-0", "alpha", "power", "treatments", "nan-variance", "negative-variance"],
)
def test_bad_arguments_raise(args, error):
    with pytest.raises(error):
        required_users(*args)


def test_zero_variance_needs_two_users():
    assert required_users(0.0, 0.1) == 2


def test_cli_prints_users_and_sessions_from_the_logs_variance(ab_logs, capsys):
    assert main(["power", "--logs", str(ab_logs["post"]), "--metric",
                 col.MEAN_TIME_PER_SESSION, "--mde", "5%"]) == 0
    out = capsys.readouterr().out
    users = user_metrics(sessionize_events(read_events([ab_logs["post"]])).table)
    values = users[col.MEAN_TIME_PER_SESSION]
    expected = required_users(values.var(ddof=1), 0.05 * values.mean())
    assert f"users per arm: {expected:,}; all 2 arms: {2 * expected:,}" in out
    sessions = math.ceil(expected * users[col.SESSIONS].mean())
    assert f"sessions per arm: {sessions:,}; all arms: {2 * sessions:,}" in out


def test_cli_with_pre_uses_the_cuped_variance(ab_logs, capsys):
    assert main(["power", "--logs", str(ab_logs["post"]), "--metric", col.TIME, "--mde", "0.5",
                 "--pre", str(ab_logs["pre"]), "--treatments", "2"]) == 0
    out = capsys.readouterr().out
    post = user_metrics(sessionize_events(read_events([ab_logs["post"]])).table)
    pre = user_metrics(sessionize_events(read_events([ab_logs["pre"]])).table)
    x = pre.set_index(col.USER)[col.TIME].reindex(post[col.USER]).to_numpy()
    x = np.where(np.isnan(x), np.nanmean(x), x)
    fit = cuped_fit(post[col.TIME].to_numpy(), x)
    assert fit.variance_reduction > 0.1
    reduced = post[col.TIME].var(ddof=1) * (1 - fit.variance_reduction)
    expected = required_users(reduced, 0.5, treatments=2)
    assert f"variance -{fit.variance_reduction:.1%}" in out
    assert f"users per arm: {expected:,}; all 3 arms: {3 * expected:,}" in out


def test_cli_ratio_metric_uses_the_delta_method(ab_logs, capsys):
    assert main(["power", "--logs", str(ab_logs["post"]), "--metric", "ratio_tracks_per_session",
                 "--mde", "2%"]) == 0
    out = capsys.readouterr().out
    users = user_metrics(sessionize_events(read_events([ab_logs["post"]])).table)
    stats = RatioStats.of(users[col.TRACKS], users[col.SESSIONS])
    expected = required_users(stats.variance, 0.02 * stats.ratio)
    assert f"users per arm: {expected:,};" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metric", "nope", "--mde", "5%"], "unknown metric 'nope'"),
        (["--metric", "time", "--mde", "x"], "--mde must be"),
        (["--metric", "time", "--mde", "5%", "--power", "1.2"], "power must be in (0, 1)"),
        (["--metric", "time", "--mde", "5%", "--treatments", "0"], "treatments must be"),
        (["--metric", "ratio_time_per_session", "--mde", "5%", "--pre", "PRE"], "CUPED (--pre)"),
    ],
    ids=["metric", "mde", "power", "treatments", "ratio-cuped"],
)
def test_cli_bad_input_is_one_line_and_exit_2(ab_logs, capsys, extra, message):
    extra = [str(ab_logs["pre"]) if a == "PRE" else a for a in extra]
    code = main(["power", "--logs", str(ab_logs["post"]), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err and err.startswith("botify power: error:")


def test_cli_pre_period_without_the_same_users_is_one_line(tmp_path, capsys):
    post = write_events(generate_events(50, seed=1), tmp_path / "post" / "data.jsonl")
    earlier = generate_events(50, seed=2)
    earlier[ev.USER] = earlier[ev.USER] + 1_000_000  # nobody of the experiment
    pre = write_events(earlier, tmp_path / "pre" / "data.jsonl")
    code = main(["power", "--logs", str(post), "--metric", "time", "--mde", "5%",
                 "--pre", str(pre)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no CUPED" in err
