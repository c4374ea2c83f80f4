"""The README's table of the recommenders' parameters is the one their declarations generate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from botify.params import (
    TABLE_END,
    TABLE_START,
    declared,
    markdown_table,
    recommender_table,
    replace_table,
)
from botify.registry import RECOMMENDER_TYPES

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_table_is_generated_from_the_declarations():
    text = README.read_text()
    assert text.count(TABLE_START) == 1 and text.count(TABLE_END) == 1
    shown = text[text.index(TABLE_START) + len(TABLE_START) : text.index(TABLE_END)]
    assert shown.strip("\n") == recommender_table().strip("\n"), (
        "README.md's table of the recommenders' parameters differs from their Params "
        "declarations: regenerate it with `python -m botify.params README.md` (or print it with "
        "`python -m botify.params` and paste it between the recommender-params markers)"
    )


def test_the_table_lists_every_built_in_and_every_declared_parameter():
    table = recommender_table()
    for name, cls in RECOMMENDER_TYPES.builtins.items():
        assert f"| `{name}` |" in table
        for field in dataclasses.fields(declared(cls)):
            assert f"| `{field.name}` |" in table


def test_a_row_per_parameter_with_its_type_range_default_and_description():
    from botify.recommenders.favorites import Favorites
    from botify.recommenders.random import Random

    lines = markdown_table({"favorites": Favorites, "random": Random}).splitlines()
    assert lines[0] == "| type | parameter | value | default | description |"
    assert lines[2] == (
        "| `favorites` | `threshold` | `float`, in [0, 1] | `0.38` | a track heard at least this "
        "much is liked (tuned by `botify tune favorites-threshold`) |"
    )
    assert lines[9].startswith(r"|  | `namespace` | `str \| None` | `null` | where likes are kept")
    assert lines[-1] == "| `random` | | | | no parameters |"


def test_replace_table_rewrites_between_the_markers_only():
    text = f"before\n{TABLE_START}\nold\n{TABLE_END}\nafter\n"
    assert replace_table(text, "new\n") == f"before\n{TABLE_START}\nnew\n{TABLE_END}\nafter\n"
    with pytest.raises(ValueError, match="recommender-params"):
        replace_table("no markers", "new\n")
