"""``botify check model`` and ``botify train --models module:Class`` on plugin models written
outside the package: a working item-kNN, and broken ones that fail with one clear line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import orjson
import pytest

from botify.cli import main
from botify.store.artifacts import iter_artifact
from botify.training.check import ContractError, check_model

ITEM_KNN = '''
"""An item-kNN: the tracks whose listeners overlap most, by cosine over user-track listens."""

import numpy as np
import scipy.sparse as sp

from botify.store.artifacts import PER_TRACK
from botify.training.artifacts import RecommendationLists


class ItemKNN:
    name = "item_knn"
    kind = PER_TRACK

    def __init__(self, settings):
        self.k = settings.track_k

    def fit(self, data):
        events = data.sessions
        users, row = np.unique(events["user"].to_numpy(), return_inverse=True)
        tracks, col = np.unique(events["track"].to_numpy(), return_inverse=True)
        listens = sp.csr_matrix(
            (events["time"].to_numpy(), (row, col)), shape=(len(users), len(tracks))
        )
        norms = np.sqrt(np.asarray(listens.multiply(listens).sum(axis=0))).ravel()
        normed = listens @ sp.diags(1.0 / np.maximum(norms, 1e-12))
        similar = (normed.T @ normed).toarray()
        np.fill_diagonal(similar, -np.inf)
        top = np.argsort(-similar, axis=1, kind="stable")[:, : self.k]
        return RecommendationLists(PER_TRACK, tracks, [tracks[r] for r in top])
'''

# A model's head: the interface, then each broken plugin's fit.
HEAD = """
import numpy as np
from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import RecommendationLists

class Broken:
    name = "broken"
    kind = PER_TRACK

    def __init__(self, settings):
        pass

    def fit(self, data):
        tracks = np.unique(data.sessions["track"].to_numpy())
        n = len(tracks)
"""

BROKEN = {
    "import-error": (
        "import not_a_module_anywhere\n",
        "resolve",
        "cannot import 'plugin_import_error' (ModuleNotFoundError: No module named "
        "'not_a_module_anywhere')",
    ),
    "not-a-class": ("def Broken(settings):\n    pass\n", "resolve", "is not a class"),
    "no-kind": (
        "class Broken:\n    name = 'broken'\n    def __init__(self, settings): pass\n"
        "    def fit(self, data): pass\n",
        "resolve",
        "Broken.kind must be one of per_user, per_track, ranking, embeddings, got None",
    ),
    "bad-name": (
        "class Broken:\n    name = 'a b'\n    kind = 'per_user'\n"
        "    def __init__(self, settings): pass\n    def fit(self, data): pass\n",
        "resolve",
        "Broken.name must name its artifact",
    ),
    "no-settings": (
        "class Broken:\n    name = 'b'\n    kind = 'per_user'\n    def fit(self, data): pass\n",
        "resolve",
        "Broken must be built as __init__(self, settings)",
    ),
    "fit-raises": (
        HEAD + "        raise RuntimeError('out of ideas')\n",
        "fit without the catalog",
        "RuntimeError: out of ideas (at ",
    ),
    "not-an-artifact": (
        HEAD + "        return {int(t): [] for t in tracks}\n",
        "fit without the catalog",
        "fit() returned dict, not a RankedTracks, RecommendationLists or ItemEmbeddings",
    ),
    "wrong-kind": (
        HEAD + "        return RecommendationLists(PER_USER, tracks, [tracks[:3]] * n)\n",
        "fit without the catalog",
        "Broken.kind is 'per_track' but fit() returned a per_user artifact",
    ),
    "negative-id": (
        HEAD + "        return RecommendationLists(PER_TRACK, tracks, [np.array([-1])] * n)\n",
        "read without the catalog",
        '"recommendations" must hold non-negative integer ids, got -1',
    ),
    "unknown-track": (
        HEAD + "        return RecommendationLists(PER_TRACK, tracks, [np.array([10**6])] * n)\n",
        "read without the catalog",
        "jsonl:1: lists track 1000000, not a log track",
    ),
    "extra-not-a-dict": (
        HEAD.replace("PER_TRACK\n", 'PER_TRACK\n    extra = {"broken_user": PER_USER}\n', 1)
        + "        return RecommendationLists(PER_TRACK, tracks, [tracks[:3]] * n)\n",
        "fit without the catalog",
        "fit() must return a dict of the artifacts broken, broken_user, got RecommendationLists",
    ),
    "extra-bad-kind": (
        HEAD.replace("PER_TRACK\n", 'PER_TRACK\n    extra = {"more": "vectors"}\n', 1)
        + "        pass\n",
        "resolve",
        "Broken.extra must map further artifact names to kinds",
    ),
    "repeated-key": (
        HEAD + "        keys = np.repeat(tracks[:2], 2)\n"
        "        return RecommendationLists(PER_TRACK, keys, [tracks[:3]] * 4)\n",
        "read without the catalog",
        "appears twice",
    ),
}


@pytest.fixture()
def plugins(tmp_path, monkeypatch):
    """Writes modules into a directory outside the package, the working directory and on the
    path; forgets them afterwards."""
    directory = tmp_path / "plugins"
    directory.mkdir()
    monkeypatch.chdir(directory)
    monkeypatch.syspath_prepend(str(directory))
    written = []

    def write(module: str, source: str) -> Path:
        written.append(module)
        path = directory / f"{module}.py"
        path.write_text(textwrap.dedent(source))
        return path

    yield write
    for module in written:
        sys.modules.pop(module, None)


def test_a_plugin_passes_the_check_and_trains(plugins, small_log_dir, tmp_path, capsys):
    plugins("mymodel", ITEM_KNN)
    assert main(["check", "model", "mymodel:ItemKNN"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 and all(line.startswith("ok    ") for line in lines)
    assert "mymodel:ItemKNN is mymodel.ItemKNN: artifact 'item_knn', kind per_track" in lines[0]

    out = tmp_path / "out"
    argv = ["train", "--logs", str(small_log_dir), "--out", str(out), "--quiet"]
    assert main([*argv, "--models", "mymodel:ItemKNN", "i2i_cooc"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["i2i_cooc.jsonl", "item_knn.jsonl"]
    assert f"item_knn: {out / 'item_knn.jsonl'}" in capsys.readouterr().out
    records = list(iter_artifact(out / "item_knn.jsonl"))
    assert records and {kind for kind, _, _ in records} == {"per_track"}

    argv = ["evaluate", "--logs", str(small_log_dir), "--out", str(out), "--quiet"]
    assert main([*argv, "--models", "mymodel:ItemKNN"]) == 0
    rows = orjson.loads((out / "evaluation.json").read_bytes())
    knn, random = ({r["model"]: r for r in rows if r["task"] == "next"}[m] for m in
                   ("item_knn", "random"))
    assert knn["ndcg"] > 2 * random["ndcg"]


def test_check_model_from_python_on_a_class(plugins):
    plugins("mymodel_class", ITEM_KNN)
    from mymodel_class import ItemKNN

    passed = check_model(ItemKNN)
    assert passed[0].detail.startswith("mymodel_class.ItemKNN is mymodel_class.ItemKNN")
    assert len(passed) == 7


def test_the_console_script_imports_from_the_working_directory(plugins):
    """`botify check model module:Class` run where the file is, with nothing on PYTHONPATH."""
    path = plugins("mymodel_cwd", ITEM_KNN)
    script = Path(sys.executable).parent / "botify"
    done = subprocess.run(
        [str(script), "check", "model", "mymodel_cwd:ItemKNN"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(path.parent)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("\nok    ") == 6


@pytest.mark.parametrize(("case", "expected"), BROKEN.items(), ids=BROKEN)
def test_a_broken_plugin_fails_with_one_clear_line(plugins, capsys, case, expected):
    source, check, message = expected
    module = f"plugin_{case.replace('-', '_')}"
    plugins(module, source)
    assert main(["check", "model", f"{module}:Broken"]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line for line in lines if not line.startswith("ok    ")] == [lines[-1]]
    assert lines[-1].startswith(f"FAIL  {check}: "), lines[-1]
    assert message in lines[-1]
    assert "Traceback" not in captured.out + captured.err
    with pytest.raises(ContractError) as failed:
        check_model(f"{module}:Broken")
    assert failed.value.check == check


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("import-error", "cannot import 'plugin_import_error'"),
        ("wrong-kind", "Broken.kind is 'per_track' but fit() returned a per_user artifact"),
    ],
)
def test_train_refuses_a_broken_plugin_in_one_line(
    plugins, small_log_dir, tmp_path, capsys, case, message
):
    module = f"plugin_{case.replace('-', '_')}"
    plugins(module, BROKEN[case][0])
    argv = ["train", "--logs", str(small_log_dir), "--out", str(tmp_path / "o"), "--quiet"]
    assert main([*argv, "--models", f"{module}:Broken"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("botify train: error: ") and message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


TWO_WAYS = '''
"""Per-track lists, per-user lists and embeddings from one fit: tracks by id order."""

import numpy as np

from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import ItemEmbeddings, RecommendationLists


class TwoWays:
    name = "two_i2i"
    kind = PER_TRACK
    extra = {"two_user": PER_USER, "two_vectors": "embeddings"}

    def __init__(self, settings):
        pass

    def fit(self, data):
        tracks = np.unique(data.sessions["track"].to_numpy())
        users = np.unique(data.sessions["user"].to_numpy())
        return {
            "two_user": RecommendationLists(PER_USER, users, [tracks[:5]] * len(users)),
            "two_i2i": RecommendationLists(PER_TRACK, tracks, [tracks[:5]] * len(tracks)),
            "two_vectors": ItemEmbeddings.of(tracks, np.ones((len(tracks), 4))),
        }
'''


def test_a_model_with_several_artifacts(plugins, small_log_dir, tmp_path, capsys):
    plugins("two_ways", TWO_WAYS)
    assert main(["check", "model", "two_ways:TwoWays"]) == 0
    out = capsys.readouterr().out
    assert "artifact 'two_user', kind per_user, artifact 'two_vectors', kind embeddings" in out
    assert "float32 embeddings" in out and "per_user records" in out
    models = tmp_path / "o"
    argv = ["train", "--logs", str(small_log_dir), "--out", str(models), "--quiet"]
    assert main([*argv, "--models", "two_ways:TwoWays"]) == 0
    assert sorted(p.name for p in models.iterdir()) == [
        "two_i2i.jsonl", "two_user.jsonl", "two_vectors.npy"
    ]
    vectors = np.load(models / "two_vectors.npy")
    tracks = {key for _, key, _ in iter_artifact(models / "two_i2i.jsonl")}
    assert vectors.dtype == np.float32 and vectors.shape == (max(tracks) + 1, 4)
    assert set(np.flatnonzero(vectors.sum(axis=1)).tolist()) == tracks
    assert main([*argv, "--models", "two_ways:TwoWays", "i2i_cooc"]) == 0
    argv = ["train", "--logs", str(small_log_dir), "--out", str(models), "--quiet"]
    assert main([*argv, "--models", "two_ways:TwoWays", "two_ways:TwoWays"]) == 2
    assert "both write the artifact 'two_i2i'" in capsys.readouterr().err


NEEDS_CATALOG = '''
from botify.store.artifacts import RANKING
from botify.training.artifacts import RankedTracks


class ByCatalog:
    """Every catalog track, in id order."""

    name = "by_catalog"
    kind = RANKING
    needs = ("catalog",)

    def __init__(self, settings):
        pass

    def fit(self, data):
        ids = data.catalog.tracks.ids
        return RankedTracks(ids, -ids.astype(float))
'''


def test_a_model_that_needs_the_catalog(plugins, small_log_dir, tmp_path, capsys):
    plugins("needs_catalog", NEEDS_CATALOG)
    assert main(["check", "model", "needs_catalog:ByCatalog"]) == 0
    out = capsys.readouterr().out
    assert "needs catalog" in out and "without the catalog" not in out
    assert out.count("\n") == 4
    argv = ["train", "--logs", str(small_log_dir), "--out", str(tmp_path / "o"), "--quiet"]
    assert main([*argv, "--models", "needs_catalog:ByCatalog"]) == 2
    err = capsys.readouterr().err
    assert "model 'needs_catalog:ByCatalog' needs the tracks catalog (--catalog FILE)" in err
