"""Bad input never yields a 500: each case gets a 4xx JSON message naming the field."""

import pytest

from tests.botify.service.conftest import read_log

GOOD = {"track": 3, "time": 0.5}

# (method, path, raw body or None, expected status, words the message must hold)
CASES = [
    ("/next/1", None, 400, ["body", "missing"]),
    ("/next/1", b"", 400, ["body", "missing"]),
    ("/next/1", b"   \n", 400, ["body", "missing"]),
    ("/next/1", b"track=3&time=0.5", 400, ["body", "not valid JSON"]),
    ("/next/1", b'{"track": 3, "time": 0.5', 400, ["body", "not valid JSON"]),
    ("/next/1", b"\xff\xfe", 400, ["body", "not valid JSON"]),
    ("/next/1", b"[3, 0.5]", 400, ["body", "must be a JSON object", "an array"]),
    ("/next/1", b'"hello"', 400, ["body", "must be a JSON object"]),
    ("/next/1", b"42", 400, ["body", "must be a JSON object"]),
    ("/next/1", b"null", 400, ["body", "must be a JSON object"]),
    ("/next/1", b'{"time": 0.5}', 400, ["track", "missing"]),
    ("/next/1", b'{"track": 3}', 400, ["time", "missing"]),
    ("/next/1", b'{"track": "x", "time": 0.5}', 400, ["track", "integer", '"x"']),
    ("/next/1", b'{"track": "3", "time": 0.5}', 400, ["track", "integer", '"3"']),
    ("/next/1", b'{"track": true, "time": 0.5}', 400, ["track", "integer", "true"]),
    ("/next/1", b'{"track": 1.5, "time": 0.5}', 400, ["track", "integer", "1.5"]),
    ("/next/1", b'{"track": 3.0, "time": 0.5}', 400, ["track", "integer", "3.0"]),
    ("/next/1", b'{"track": null, "time": 0.5}', 400, ["track", "integer", "null"]),
    ("/next/1", b'{"track": [3], "time": 0.5}', 400, ["track", "integer", "array"]),
    ("/next/1", b'{"track": -3, "time": 0.5}', 400, ["track", "-3"]),
    ("/next/1", b'{"track": 9223372036854775808, "time": 0.5}', 400, ["track", "2^63-1"]),
    ("/next/1", b'{"track": 3, "time": "x"}', 400, ["time", "number", '"x"']),
    ("/next/1", b'{"track": 3, "time": true}', 400, ["time", "number", "true"]),
    ("/next/1", b'{"track": 3, "time": null}', 400, ["time", "number", "null"]),
    ("/next/1", b'{"track": 3, "time": 1.5}', 400, ["time", "[0, 1]", "1.5"]),
    ("/next/1", b'{"track": 3, "time": -0.1}', 400, ["time", "[0, 1]", "-0.1"]),
    ("/next/1", b'{"track": 3, "time": NaN}', 400, ["time", "finite", "NaN"]),
    ("/next/1", b'{"track": 3, "time": Infinity}', 400, ["time", "finite", "Infinity"]),
    ("/next/1", b'{"track": 3, "time": 1e999}', 400, ["time", "finite", "Infinity"]),
    ("/next/1", b"[" * 3000 + b"]" * 3000, 400, ["body", "nested too deeply"]),
    ("/next/1", b'{"track": 3, "time": ' + b"[" * 3000 + b"]" * 3000 + b"}", 400,
     ["body", "nested too deeply"]),
    ("/next/1", b'{"track": 3, "time": ' + b"9" * 400 + b"}", 400, ["time", "400 digits"]),
    ("/next/1", b'{"track": 3, "time": ' + b"9" * 5000 + b"}", 400, ["time", "5000 digits"]),
    ("/next/1", b'{"track": 3, "time": ' + b"9" * 30 + b"}", 400, ["time", "[0, 1]"]),
    ("/next/1", b'{"track": ' + b"9" * 400 + b', "time": 0.5}', 400, ["track", "400 digits"]),
    ("/next/-1", GOOD, 400, ["user", "'-1'"]),
    ("/next/abc", GOOD, 400, ["user", "'abc'"]),
    ("/next/1.5", GOOD, 400, ["user", "'1.5'"]),
    ("/next/9223372036854775808", GOOD, 400, ["user", "2^63-1"]),
    ("/next/1", {"track": 4, "time": 0.5}, 404, ["track", "4", "not in the catalog"]),
    ("/next/1", {"track": 10**15, "time": 0.5}, 404, ["track", "not in the catalog"]),
    ("/last/1", None, 400, ["body", "missing"]),
    ("/last/1", b'{"track": "x", "time": 0.5}', 400, ["track", "integer"]),
    ("/last/1", b'{"track": 3, "time": NaN}', 400, ["time", "finite"]),
    ("/last/-5", GOOD, 400, ["user"]),
    ("/last/1", {"track": 4, "time": 0.5}, 404, ["track", "not in the catalog"]),
]


def _ids(case):
    path, body, status, _ = case
    shown = body if not isinstance(body, bytes) else body.decode("latin-1")
    return f"{path} {shown} -> {status}"


@pytest.mark.parametrize(("path", "body", "status", "words"), CASES, ids=[_ids(c) for c in CASES])
def test_bad_input_is_a_4xx_json_message(app, client, path, body, status, words):
    if isinstance(body, dict):
        response = client.post(path, json=body)
    else:
        response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == status
    assert response.is_json
    message = response.get_json()["message"]
    for word in words:
        assert word in message, message
    assert "Traceback" not in response.get_data(as_text=True)
    assert read_log(app) == [], "a rejected request must not be logged"


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/track/4", 404, ["track", "not in the catalog"]),
        ("/track/-4", 400, ["track", "'-4'"]),
        ("/track/x", 400, ["track", "'x'"]),
        ("/nowhere", 404, ["GET /nowhere", "no such resource"]),
        ("/next", 404, []),
        ("/static/x", 404, ["no such resource"]),
        ("/track//3", 404, ["no such resource"]),
    ],
    ids=str,
)
def test_bad_gets(client, path, status, words):
    response = client.get(path)
    assert response.status_code == status and response.is_json
    message = response.get_json()["message"]
    for word in words:
        assert word in message


def test_wrong_method_is_405_json(client):
    response = client.get("/next/1")
    assert response.status_code == 405 and "message" in response.get_json()


def test_huge_body_is_413_json(client):
    response = client.post("/next/1", data=b"x" * 100_000, content_type="application/json")
    assert response.status_code == 413 and "message" in response.get_json()


def test_time_as_integer_is_accepted(client):
    assert client.post("/next/1", json={"track": 3, "time": 1}).status_code == 200
    assert client.post("/next/1", json={"track": 3, "time": 0}).status_code == 200
