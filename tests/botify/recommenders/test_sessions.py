"""Per-user session state in Redis: recording, expiry, the end of a session."""

from __future__ import annotations

from botify.store.batch import Batch
from botify.store.sessions import PARTS, SessionStore, end_session, session_key


def observe(store, client, user, track, time):
    batch = Batch(client)
    resolve = store.queue_observe(
        batch, user, track, time, recommended=True, recent=True, state=True
    )
    batch.execute()
    return resolve()


def test_a_session_accumulates_and_ends(redis_client):
    store = SessionStore(ttl=50, recent_size=3)
    observe(store, redis_client, 1, 10, 1.0)
    store.update(redis_client, 1, recommended=11, state={"k": "v"})
    for track, time in [(11, 0.5), (12, 0.0), (13, 0.25)]:
        session = observe(store, redis_client, 1, track, time)
    assert session.heard == {10, 11, 12, 13}
    assert session.recommended == {11}
    assert session.recent == [(13, 0.25), (12, 0.0), (11, 0.5)]  # newest first, bounded
    assert session.state == {"k": "v"}
    for part in PARTS:
        assert 0 < redis_client.ttl(session_key(1, part)) <= 50
    # Another user's session is separate.
    assert observe(store, redis_client, 2, 10, 1.0).heard == {10}
    end_session(redis_client, 1)
    assert not any(redis_client.exists(session_key(1, part)) for part in PARTS)
    assert observe(store, redis_client, 1, 14, 1.0).heard == {14}
    assert redis_client.exists(session_key(2, "heard"))
