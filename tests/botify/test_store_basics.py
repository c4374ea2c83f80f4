"""The embedded Redis and the configuration layering."""

import json

import pytest

from botify.config import load_config
from botify.errors import ConfigError
from botify.store import connect


def test_embedded_redis_answers(redis_client):
    redis_client.set("k", json.dumps({"a": 1}))
    assert json.loads(redis_client.get("k")) == {"a": 1}


def test_config_layers_file_then_env(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"DATA_LOG_FILE": "from-file.jsonl", "SESSION_TTL": 5}))
    monkeypatch.setenv("BOTIFY_SESSION_TTL", "7")
    config = load_config(path)
    assert config["DATA_LOG_FILE"] == "from-file.jsonl"
    assert config["SESSION_TTL"] == 7


def test_a_config_key_nothing_reads_is_named_with_the_likely_one(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"SESSION_TTL": 5, "CATALOG_CHECK_INTERVAL": 1}))
    with pytest.raises(ConfigError, match=r"config\.json: unknown key CATALOG_CHECK_INTERVAL "
                                          r"\(did you mean VERSION_CHECK_INTERVAL\?\)"):
        load_config(path)
    path.write_text(json.dumps({"MAX_CONTENT_LENGTH": 4096, "SESSION_TTL": 5}))  # Flask's own key
    assert load_config(path)["MAX_CONTENT_LENGTH"] == 4096


def test_one_client_per_url(redis_server):
    assert connect(redis_server.url) is connect(redis_server.url)


def test_a_botify_variable_that_sets_no_key_is_named_with_the_likely_one(monkeypatch):
    monkeypatch.setenv("BOTIFY_WORKERS", "3")  # how serve runs, not a key: accepted
    monkeypatch.setenv("BOTIFY_RECOMMENDERS__mine__type", "random")  # nested: sets RECOMMENDERS
    assert load_config()["RECOMMENDERS"] == {"mine": {"type": "random"}}
    monkeypatch.setenv("BOTIFY_SESION_TTL", "5")
    with pytest.raises(ConfigError, match=r"BOTIFY_SESION_TTL: SESION_TTL is not a configuration "
                                          r"key \(did you mean BOTIFY_SESSION_TTL\?\)"):
        load_config()


def test_every_botify_variable_the_code_reads_is_a_key_or_a_declared_process_variable():
    import re
    from pathlib import Path

    import botify.config
    from botify.config import KNOWN_KEYS, PREFIX, PROCESS_VARIABLES

    root = Path(__file__).resolve().parents[2]

    def variables(*files: Path) -> set[str]:
        return {name for file in files
                for name in re.findall(r"[\"'](BOTIFY_[A-Z_]+)[\"']", file.read_text())
                if name[len(PREFIX):] not in KNOWN_KEYS}

    config = root / "botify" / "config.py"
    others = [file for directory in ("botify", "sim", "bench")
              for file in (root / directory).rglob("*.py") if file != config]
    # The service's code reads them through botify.config's constants, all of them declared.
    assert variables(*(f for f in others if f.is_relative_to(root / "botify"))) == set()
    constants = {value for name, value in vars(botify.config).items()
                 if name.endswith("_VARIABLE") and str(value).startswith(PREFIX)}
    assert constants == PROCESS_VARIABLES
    # The simulator and the benchmarks set only declared ones.
    assert variables(*others) <= PROCESS_VARIABLES
