"""The simulator is a client of the service: every ``sim`` module imports without ``botify``.

The one thing they share, the protocol of recommenders run in-process, lives in ``sim``; botify's
recommenders satisfy it structurally, without importing it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import botify.recommenders
from sim.agents.recommender import Recommender

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: a finder first on sys.meta_path refuses botify and its submodules,
# then every module of the sim package is imported; the names that failed are printed.
_IMPORT_ALL = textwrap.dedent(
    """
    import importlib
    import pkgutil
    import sys

    class NoBotify:
        def find_spec(self, name, path=None, target=None):
            if name == "botify" or name.startswith("botify."):
                raise ImportError(f"sim imported {name}")
            return None

    sys.meta_path.insert(0, NoBotify())
    import sim

    names = ["sim"] + [m.name for m in pkgutil.walk_packages(sim.__path__, "sim.")]
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not any(n == "botify" or n.startswith("botify.") for n in sys.modules), "botify loaded"
    print(len(names))
    print("\\n".join(failed))
    """
)


def test_every_sim_module_imports_without_botify():
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    count, *failed = proc.stdout.strip().split("\n")
    assert [line for line in failed if line] == []
    assert int(count) >= 20  # the package, its subpackages and their modules were all walked


def test_the_finder_does_refuse_botify():
    """The check above would pass vacuously if the finder let botify through."""
    script = _IMPORT_ALL.split("import sim\n")[0] + "import botify.errors\n"
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "sim imported botify" in proc.stderr


def _botify_recommender_classes():
    for info in pkgutil.iter_modules(botify.recommenders.__path__, "botify.recommenders."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "recommend_next" in vars(cls):
                if not getattr(cls, "_is_protocol", False):
                    yield cls


def test_botify_recommenders_satisfy_the_sim_protocol():
    classes = list(_botify_recommender_classes())
    assert len(classes) >= 5
    expected = ["self", "user", "prev_track", "prev_time"]
    for cls in classes:
        assert issubclass(cls, Recommender), cls
        assert list(inspect.signature(cls.recommend_next).parameters) == expected, cls


def test_botify_prints_a_simulator_error_as_one_line(tmp_path, monkeypatch, capsys):
    """SimError is no BotifyError; botify's CLI still shows it without a traceback."""
    import botify.cli

    monkeypatch.setattr(botify.cli, "COMMAND_MODULES", ("botify.tuning",))
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no-world"
    assert botify.cli.main(["tune", "favorites-threshold", "--world", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("botify tune: error: ") and "python -m sim.world" in err
    assert err.count("\n") == 1
