"""The registry, and the Random, StickyArtist and StickyGenre recommenders on a known catalog."""

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from botify.errors import ConfigError
from botify.recommenders.base import RecommenderContext
from botify.recommenders.random import Random
from botify.recommenders.registry import build_recommenders
from botify.recommenders.sticky import StickyArtist, StickyGenre
from botify.store.catalog import RedisCatalog, load_records

# Genres: A and B play rock; C's tracks have none.
RECORDS = [
    {"track": t, "artist": a, "title": str(t)} | ({"genre": "rock"} if a != "C" else {})
    for t, a in [(1, "A"), (2, "A"), (3, "A"), (4, "A"), (10, "B"), (20, "C"), (21, "C")]
]


@pytest.fixture()
def context(redis_client):
    load_records(redis_client, RECORDS)
    catalog = RedisCatalog(redis_client)
    catalog.sync()
    return RecommenderContext(redis_client, catalog, {}, np.random.default_rng(0))


def test_random_is_uniform_over_the_catalog(context):
    rec = Random(context)
    draws = [rec.recommend_next(0, 1, 1.0) for _ in range(14_000)]
    values, counts = np.unique(draws, return_counts=True)
    assert list(values) == [1, 2, 3, 4, 10, 20, 21]
    assert stats.chisquare(counts).pvalue > 1e-4


def test_sticky_artist_is_uniform_over_the_other_tracks(context):
    rec = StickyArtist(context, StickyArtist.Params())
    for prev, others in [(1, [2, 3, 4]), (3, [1, 2, 4]), (4, [1, 2, 3]), (20, [21])]:
        draws = [rec.recommend_next(0, prev, 0.5) for _ in range(3_000)]
        values, counts = np.unique(draws, return_counts=True)
        assert list(values) == others
        if len(others) > 1:
            assert stats.chisquare(counts).pvalue > 1e-4


def test_sticky_artist_single_track_artist_and_unknown_track(context):
    rec = StickyArtist(context, StickyArtist.Params())
    assert rec.recommend_next(0, 10, 0.5) == 10
    assert {rec.recommend_next(0, 999, 0.5) for _ in range(200)} == {1, 2, 3, 4, 10, 20, 21}


def test_sticky_genre_is_uniform_over_the_genre_s_other_tracks(context):
    rec = StickyGenre(context, StickyGenre.Params())
    # 10 is B's only track, but its genre has A's tracks too; C has no genre: its artist's.
    for prev, others in [(1, [2, 3, 4, 10]), (10, [1, 2, 3, 4]), (20, [21])]:
        draws = [rec.recommend_next(0, prev, 0.5) for _ in range(4_000)]
        values, counts = np.unique(draws, return_counts=True)
        assert list(values) == others
        if len(others) > 1:
            assert stats.chisquare(counts).pvalue > 1e-4
    assert {rec.recommend_next(0, 999, 0.5) for _ in range(200)} == {1, 2, 3, 4, 10, 20, 21}


def test_build_with_named_fallback(context):
    config = {"RECOMMENDERS": {
        "sticky": {"type": "sticky_artist", "fallback": "rnd"},
        "rnd": {"type": "random"},
    }}
    built = build_recommenders(config, context)
    assert isinstance(built["sticky"], StickyArtist) and isinstance(built["rnd"], Random)
    assert built["sticky"]._fallback is built["rnd"]
    assert context.recommenders["rnd"] is built["rnd"]


@pytest.mark.parametrize(
    ("recommenders", "message"),
    [
        ({"x": {"type": "nope"}}, r"RECOMMENDERS\['x'\]: unknown recommender type 'nope'"),
        ({"x": {"kind": "random"}}, "must be an object"),
        ({"x": "random"}, "must be an object"),
        ({"x": {"type": "random", "k": 3}}, r"\(random\): unknown parameter\(s\) k"),
        ({"x": {"type": "i2i", "recent": "10"}}, "parameter 'recent' must be int, got '10'"),
        ({"x": {"type": "i2i", "recent": 0}}, r"parameter 'recent' must be in \[1, inf\]"),
        ({"x": {"type": "indexed", "mode": "x"}}, "parameter 'mode' must be one of"),
        ({"x": {"type": "sticky_artist", "fallback": "y"}}, "refers to 'y', which is not a"),
        ({"x": {"type": "sticky_artist", "fallback": "y"},
          "y": {"type": "sticky_artist", "fallback": "x"}}, "cycle: x -> y -> x"),
    ],
    ids=["unknown-type", "no-type", "not-object", "unknown-param", "param-type", "param-range",
         "param-choice", "bad-fallback", "cycle"],
)
def test_bad_config(context, recommenders, message):
    with pytest.raises(ConfigError, match=message):
        build_recommenders({"RECOMMENDERS": recommenders}, context)


@dataclass(frozen=True)
class _NeedsAValue:
    weight: float  # no default: a plugin's mistake


class _Plugin:
    Params = _NeedsAValue

    def __init__(self, context, params):
        pass

    def recommend_next(self, user, prev_track, prev_time):
        return prev_track


def test_a_plugins_params_that_cannot_be_built_are_one_message(context):
    with pytest.raises(ConfigError, match=r"RECOMMENDERS\['x'\] .*: TypeError: .*weight"):
        build_recommenders({"RECOMMENDERS": {"x": {"type": f"{__name__}:_Plugin"}}}, context)


def test_a_number_that_is_not_finite_is_refused(context):
    spec = {"type": "favorites", "threshold": float("nan")}
    with pytest.raises(ConfigError, match="parameter 'threshold' must be a finite number"):
        build_recommenders({"RECOMMENDERS": {"x": spec}}, context)
