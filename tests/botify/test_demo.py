"""``botify experiment`` (the demo for now): a scripted session over real HTTP."""

import io
import re

from botify.experiment import demo


def test_demo_plays_a_session_and_stops_everything():
    out = io.StringIO()
    assert demo(users=1, seed=1, out=out) == 0
    text = out.getvalue()
    nexts = re.findall(r"^POST /next/1 \{.*\} -> 200 \{\"user\":1,\"track\":\d+\}$", text, re.M)
    assert len(nexts) >= 3
    assert re.search(r"^POST /last/1 .* -> 200 \{\"user\":1\}$", text, re.M)
    assert re.search(r"-> 400 \{\"message\":\"track: must be an integer", text)
    assert "stopped its redis-server" in text
    assert f"event log: {len(nexts) + 1} events" in text
