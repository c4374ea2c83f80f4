"""The recommender contract (``botify.recommenders.contract``), run against every built-in type, the
configurations the other tests use, and recommenders of one's own written outside the package.

A recommender returns a catalog track id, never raises, falls back when its data is missing, gives
the same answers for the same seed and, where it promises so, never repeats a track of the session.
(Across service processes: test_processes.py.)
"""

from __future__ import annotations

import sys
import textwrap

import pytest

from botify.errors import ConfigError
from botify.recommenders.contract import (
    FAIL,
    PASS,
    SKIP,
    check_recommender,
    main_check_recommender,
)
from botify.registry import RECOMMENDER_TYPES
from botify.store.connection import key_count
from botify.store.sessions import end_session
from tests.botify.recommenders.conftest import RECOMMENDERS

CHECKS = ["builds", "answers", "no data", "fallback", "no repeats", "same seed"]
# Every built-in with its defaults, then every configuration of conftest.py that sets parameters.
CASES = [(name, name, {}) for name in sorted(RECOMMENDER_TYPES.builtins)] + [
    (f"{name}-configured", spec["type"], {k: v for k, v in spec.items() if k != "type"})
    for name, spec in sorted(RECOMMENDERS.items())
    if set(spec) != {"type"}
]
# What the contract has nothing to check on, by design: the types reading no artifacts have no data
# to miss, and the ones keeping no session state do not promise to avoid its tracks (the README
# names those that do). Anything else skipped would be a check lost.
SKIPPED = {
    "random": {"fallback", "no repeats"},
    "sticky_artist": {"fallback", "no repeats"},
    "sticky_genre": {"fallback", "no repeats"},
    "contextual": {"no repeats"},
    "top_pop": {"no repeats"},
    "indexed_random": {"no repeats"},
}


def check(type_or_path, params, redis_server) -> dict[str, object]:
    """The contract's results by check name, on the session's (flushed) Redis."""
    return {r.name: r for r in check_recommender(type_or_path, params, redis_url=redis_server.url)}


@pytest.mark.parametrize(("case", "type_name", "params"), CASES, ids=[c[0] for c in CASES])
def test_every_built_in_fulfils_the_contract(case, type_name, params, redis_client, redis_server):
    results = check(type_name, params, redis_server)
    assert list(results) == CHECKS
    assert [r.line() for r in results.values() if r.failed] == []
    skipped = {name for name, r in results.items() if r.status == SKIP}
    assert skipped == SKIPPED.get(case.removesuffix("-configured"), set()), results
    assert key_count(redis_client) == 0  # it cleans up after itself


def test_a_new_session_may_repeat_what_the_last_one_played(build, artifacts, redis_client):
    recommender = build("indexed")
    assert [recommender.recommend_next(1, 50, 1.0) for _ in range(3)] == [10, 11, 12]
    end_session(redis_client, 1)
    assert recommender.recommend_next(1, 50, 1.0) == 10


def test_it_will_not_flush_a_redis_that_holds_data(redis_client, redis_server):
    redis_client.set("someone's", "data")
    with pytest.raises(ConfigError, match="holds 1 keys: give an empty one"):
        check_recommender("random", redis_url=redis_server.url)
    assert redis_client.get("someone's") == b"data"


def test_main_starts_its_own_redis_and_prints_one_line_per_check(capsys):
    assert main_check_recommender("sticky_genre", {}) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [PASS, PASS, PASS, SKIP, SKIP, PASS]
    assert lines[0] == ("ok    builds: sticky_genre is botify.recommenders.sticky:StickyGenre, "
                        "built with its defaults")


# Recommenders of one's own ----------------------------------------------------------------------

# A plugin as a user writes it: the previous track's list, some of the time another track by its
# artist instead; without a list, its fallback.
GOOD = '''
from dataclasses import dataclass

from botify.params import param
from botify.recommenders.support import artifact_reader, fallback, random_new


class ListOrArtist:
    @dataclass(frozen=True)
    class Params:
        recs: str = param("i2i_cooc", "per-track lists", artifact="per_track")
        artist_share: float = param(0.3, "how often another track by the artist answers",
                                    low=0.0, high=1.0)
        fallback: str | None = param("sticky_artist", "answers without a list", recommender=True)

    def __init__(self, context, params):
        self.params = params
        self.catalog = context.catalog
        self.rng = context.rng
        self.reader = artifact_reader(context)
        self.fallback = fallback(context, params.fallback)

    def recommend_next(self, user, prev_track, prev_time):
        (entry,) = self.reader.entries(self.params.recs, [prev_track])
        if entry is not None:
            pool = entry.tracks
            if self.rng.random() < self.params.artist_share:
                pool = self.catalog.artist_tracks(prev_track)
            track = random_new(pool, {prev_track}, self.catalog, self.rng)
            if track is not None:
                return track
        return self.fallback.recommend_next(user, prev_track, prev_time)
'''

# Subclasses of ListOrArtist that break one promise each: (module, check that fails, message).
BROKEN_BEHAVIOUR = {
    "stale": ("""
    def recommend_next(self, user, prev_track, prev_time):
        return 999 if user == 7 else super().recommend_next(user, prev_track, prev_time)
""", "answers", "stale:Plugin answered track 999, which is not in the catalog (tracks 0..59), on "
               "recommend_next(user=7,"),
    "raises": ("""
    def recommend_next(self, user, prev_track, prev_time):
        if prev_time == 0.0:
            raise KeyError(prev_track)
        return super().recommend_next(user, prev_track, prev_time)
""", "answers", "raises:Plugin raised KeyError: "),
    "numpy_id": ("""
    def recommend_next(self, user, prev_track, prev_time):
        import numpy as np
        return np.int64(super().recommend_next(user, prev_track, prev_time))
""", "answers", "numpy_id:Plugin answered np.int64("),
    "no_fallback": ("""
    def recommend_next(self, user, prev_track, prev_time):
        (entry,) = self.reader.entries(self.params.recs, [prev_track])
        if entry is None:
            return self.catalog.random_track(self.rng)
        return super().recommend_next(user, prev_track, prev_time)
""", "fallback", "no_fallback:Plugin without its data, with fallback='sticky_artist', answered"),
    "repeats": ("""
    no_repeats = True
""", "no repeats", "repeats:Plugin promises no repeats (no_repeats) but repeated"),
    "unseeded": ("""
    def recommend_next(self, user, prev_track, prev_time):
        import random
        return random.choice(self.catalog.artist_tracks(prev_track) or [0])
""", "same seed", "unseeded:Plugin built twice with seed 11 on the same state answered user 1 "
                  "differently"),
}

# Plugins that cannot be built: (module source, the class path's attribute, message).
UNBUILDABLE = {
    "import_error": ("import botify_no_such_dependency\n", "Plugin",
                     "recommender type 'import_error:Plugin': cannot import 'import_error' "
                     "(ModuleNotFoundError: No module named 'botify_no_such_dependency')"),
    "syntax_error": ("class Plugin(:\n", "Plugin",
                     "recommender type 'syntax_error:Plugin': cannot import 'syntax_error' "
                     "(SyntaxError: "),
    "missing": ("class Other:\n    pass\n", "Plugin",
                "recommender type 'missing:Plugin': 'missing' has no 'Plugin'"),
    "not_a_class": ("def Plugin(context, params):\n    return None\n", "Plugin",
                    "recommender type 'not_a_class:Plugin' is not a class but <function Plugin"),
    "no_method": ("class Plugin:\n    def __init__(self, context, params):\n        pass\n",
                  "Plugin", "recommender type 'no_method:Plugin': Plugin has no recommend_next("
                  "user, prev_track, prev_time) method"),
    "signature": ("class Plugin:\n    def __init__(self, context):\n        pass\n\n"
                  "    def recommend_next(self, user, prev_track, prev_time):\n        return 0\n",
                  "Plugin", "recommender type 'signature:Plugin': Plugin must be built as "
                  "__init__(self, context, params)"),
    "params_not_dataclass": ("from good import ListOrArtist\n\n\nclass Plugin(ListOrArtist):\n"
                             "    class Params:\n        pass\n", "Plugin",
                             "recommender type 'params_not_dataclass:Plugin': Plugin.Params must "
                             "be a dataclass"),
    "constructor_raises": ("from good import ListOrArtist\n\n\nclass Plugin(ListOrArtist):\n"
                           "    def __init__(self, context, params):\n"
                           "        raise OSError('model.bin not found')\n", "Plugin",
                           "RECOMMENDERS['constructor_raises:Plugin'] (constructor_raises:Plugin):"
                           " cannot be built (OSError: model.bin not found)"),
}


@pytest.fixture()
def plugins(tmp_path, monkeypatch):
    """``write(module, source)``: a module in a directory outside the package, importable."""
    directory = tmp_path / "my_plugins"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    written: list[str] = []

    def write(module: str, source: str) -> str:
        (directory / f"{module}.py").write_text(source)
        written.append(module)
        return module

    write("good", textwrap.dedent(GOOD))
    yield write
    for module in written:
        sys.modules.pop(module, None)


def test_a_plugin_of_one_s_own_passes(plugins, redis_client, redis_server):
    results = check("good:ListOrArtist", {"artist_share": 0.5}, redis_server)
    assert [r.line() for r in results.values() if r.failed] == []
    assert {n for n, r in results.items() if r.status == SKIP} == {"no repeats"}
    assert results["builds"].detail == ("good:ListOrArtist is good:ListOrArtist, built with "
                                        "artist_share=0.5")


@pytest.mark.parametrize("module", sorted(BROKEN_BEHAVIOUR))
def test_a_plugin_breaking_a_promise_fails_that_check(module, plugins, redis_client, redis_server):
    body, failing, message = BROKEN_BEHAVIOUR[module]
    plugins(module, f"from good import ListOrArtist\n\n\nclass Plugin(ListOrArtist):{body}")
    results = check(f"{module}:Plugin", {}, redis_server)
    assert results["builds"].status == PASS
    result = results[failing]
    assert result.status == FAIL
    assert result.detail.startswith(message), result.detail
    assert "\n" not in result.detail


def test_an_exception_is_reported_with_where_it_was_raised(plugins, redis_client, redis_server):
    body, _, _ = BROKEN_BEHAVIOUR["raises"]
    plugins("raises", f"from good import ListOrArtist\n\n\nclass Plugin(ListOrArtist):{body}")
    detail = check("raises:Plugin", {}, redis_server)["answers"].detail
    assert detail.endswith("prev_time=0.0) (at raises.py:7)"), detail


@pytest.mark.parametrize("module", sorted(UNBUILDABLE))
def test_a_plugin_that_cannot_be_built_is_one_config_error(module, plugins, redis_client,
                                                            redis_server):
    source, attribute, message = UNBUILDABLE[module]
    plugins(module, source)
    with pytest.raises(ConfigError) as info:
        check_recommender(f"{module}:{attribute}", redis_url=redis_server.url)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"artist_share": 2}, "recommender type 'good:ListOrArtist': parameter 'artist_share' "
                              "must be in [0.0, 1.0], got 2"),
        ({"shares": 1}, "recommender type 'good:ListOrArtist': unknown parameter(s) shares "
                        "(known: recs, artist_share, fallback)"),
        ({"fallback": "mine"}, "RECOMMENDERS['good:ListOrArtist'] (good:ListOrArtist): refers to "
                               "'mine', which is not a configured recommender"),
        ({"type": "i2i"}, "recommender type 'good:ListOrArtist': give the type once"),
    ],
    ids=["range", "unknown", "fallback", "type"],
)
def test_bad_parameters_are_one_config_error(params, message, plugins, redis_client, redis_server):
    with pytest.raises(ConfigError) as info:
        check_recommender("good:ListOrArtist", params, redis_url=redis_server.url)
    assert str(info.value).startswith(message), str(info.value)


def test_main_returns_2_and_prints_the_failures(plugins, redis_client, redis_server, capsys):
    plugins("broken", UNBUILDABLE["no_method"][0])
    assert main_check_recommender("broken:Plugin", {}, redis_url=redis_server.url) == 2
    assert capsys.readouterr().out == (
        "FAIL  builds: recommender type 'broken:Plugin': Plugin has no recommend_next(user, "
        "prev_track, prev_time) method\n"
    )
    body, _, _ = BROKEN_BEHAVIOUR["stale"]
    plugins("stale", f"from good import ListOrArtist\n\n\nclass Plugin(ListOrArtist):{body}")
    assert main_check_recommender("stale:Plugin", {}, redis_url=redis_server.url) == 2
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(maxsplit=1)[0] for line in lines] == [PASS, FAIL, FAIL, FAIL, SKIP, PASS]
    assert main_check_recommender("good:ListOrArtist", {}, redis_url=redis_server.url) == 0
