"""The embedded Redis and the configuration layering."""

import json

from botify.config import load_config
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


def test_one_client_per_url(redis_server):
    assert connect(redis_server.url) is connect(redis_server.url)
