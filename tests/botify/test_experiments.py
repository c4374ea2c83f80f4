"""A/B assignment, checked against a pure-Python murmur3 written from the paper."""

import numpy as np
import pytest
from scipy import stats

from botify.errors import ConfigError
from botify.experiments import Experiment, Experiments, experiment_salt, treatment_name, user_hash


def murmur3_32(data: bytes, seed: int) -> int:
    """Reference MurmurHash3 x86_32 (Austin Appleby), unsigned result."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed & mask
    rounded = len(data) - len(data) % 4
    for i in range(0, rounded, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    k = 0
    tail = data[rounded:]
    for shift, byte in enumerate(tail):
        k |= byte << (8 * shift)
    if tail:
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h


def test_a_pinned_value_of_user_hash():
    assert user_hash("AA", 1) == 2597713701


def test_negative_salt_name_works():
    # mmh3.hash("STICKY_ARTIST") is negative: the course's mmh3 3.0 took it as unsigned.
    signed = murmur3_32(b"STICKY_ARTIST", 0)
    assert signed >= 2**31
    assert experiment_salt("STICKY_ARTIST") == signed
    experiment = Experiment("STICKY_ARTIST", ("random", "sticky_artist"))
    for user in range(50):
        expected = murmur3_32(str(user).encode(), signed) % 2
        assert experiment.bucket(user) == expected
        assert experiment.assign(user) == treatment_name(expected)


@pytest.mark.parametrize("name", ["AA", "STICKY_ARTIST", "TOP_POP", "ЭКСПЕРИМЕНТ"], ids=str)
def test_matches_reference_murmur(name):
    salt = murmur3_32(name.encode(), 0)
    for user in (0, 1, 7, 12345, 2**31, 10**12):
        assert user_hash(name, user) == murmur3_32(str(user).encode(), salt)


def test_treatment_names():
    assert [treatment_name(i) for i in range(4)] == ["C", "T1", "T2", "T3"]
    assert Experiment("X", ("a", "b", "c")).treatments == ("C", "T1", "T2")


def test_split_is_uniform():
    experiment = Experiment("AA", ("a", "b", "c"))
    counts = np.bincount([experiment.bucket(u) for u in range(30_000)], minlength=3)
    assert stats.chisquare(counts).pvalue > 1e-4


def test_route_uses_active_and_logs_all():
    experiments = Experiments(
        {"AA": ["random", "random"], "STICKY_ARTIST": ["random", "sticky_artist"]},
        "STICKY_ARTIST",
        ["random", "sticky_artist"],
    )
    seen = set()
    for user in range(100):
        name, assignments = experiments.route(user)
        assert set(assignments) == {"AA", "STICKY_ARTIST"}
        sticky = Experiment("STICKY_ARTIST", ("random", "sticky_artist"))
        assert assignments["STICKY_ARTIST"] == sticky.assign(user)
        assert assignments["AA"] == Experiment("AA", ("random", "random")).assign(user)
        assert name == sticky.recommenders[sticky.bucket(user)]
        seen.add(name)
    assert seen == {"random", "sticky_artist"}


@pytest.mark.parametrize(
    ("experiments", "active", "message"),
    [
        ({"A": ["random"]}, "B", "ACTIVE_EXPERIMENT 'B'"),
        ({"A": ["nope"]}, "A", "nope"),
        ({"A": []}, "A", "no treatments"),
        ({"A": "random"}, "A", "must be a list"),
        ({}, "A", "at least one"),
    ],
    ids=["unknown-active", "unknown-recommender", "empty", "string", "none"],
)
def test_bad_config_is_a_config_error(experiments, active, message):
    with pytest.raises(ConfigError, match=message):
        Experiments(experiments, active, ["random"])
