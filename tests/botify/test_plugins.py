"""Installed plugins: a package's entry points register recommenders and models by name."""

from __future__ import annotations

import sys
import textwrap

import pytest

from botify.errors import ConfigError
from botify.registry import MODELS, RECOMMENDER_TYPES

PACKAGE = '''
from botify.store.artifacts import RANKING


class Constant:
    """Always the previous track."""

    def __init__(self, context, params):
        pass

    def recommend_next(self, user, prev_track, prev_time):
        return prev_track


class Nothing:
    name = "nothing"
    kind = RANKING
    needs = ()

    def __init__(self, settings):
        pass

    def fit(self, data):
        raise NotImplementedError
'''


@pytest.fixture()
def installed(tmp_path, monkeypatch):
    """A distribution on sys.path, as pip would leave it: its module and its dist-info."""
    (tmp_path / "someones_plugins.py").write_text(PACKAGE)
    info = tmp_path / "someones_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: someones-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [botify.recommenders]
        constant = someones_plugins:Constant
        broken = someones_plugins:Missing

        [botify.models]
        nothing = someones_plugins:Nothing
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("someones_plugins", None)


def test_entry_points_register_by_name(installed):
    assert "constant" in RECOMMENDER_TYPES.names() and "nothing" in MODELS.names()
    assert RECOMMENDER_TYPES.get("constant").__name__ == "Constant"
    assert MODELS.get("nothing").kind == "ranking"
    # Built-ins are found in their packages the same way, without any list.
    assert {"i2i", "sticky_genre"} <= set(RECOMMENDER_TYPES.builtins)
    assert {"top_tracks", "als"} <= set(MODELS.builtins)


def test_a_broken_entry_point_is_one_message_naming_it(installed):
    with pytest.raises(ConfigError, match=r"recommender type 'broken' \(botify.recommenders "
                                          r"plugin\): 'someones_plugins' has no 'Missing'"):
        RECOMMENDER_TYPES.get("broken", "RECOMMENDERS['x']")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_module_here:X", "cannot import 'no_such_module_here'"),
        ("botify.errors:ConfigError", "ConfigError has no recommend_next"),
        ("botify.errors:DataError.__doc__", "is not a class"),
        ("nocolon:", "an import path is module:Class"),
    ],
    ids=["import-error", "no-interface", "not-a-class", "malformed"],
)
def test_import_paths_that_do_not_resolve(path, message):
    with pytest.raises(ConfigError, match=message):
        RECOMMENDER_TYPES.get(path)
