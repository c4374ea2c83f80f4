"""Favorites (seed 000): recommend what users who liked the same track liked.

Likes live in Redis in both directions, under a namespace (by default one per threshold, so two
arms with different thresholds never mix their likes, and arms with the same one share them)::

    botify:favorites:NS:user:USER    sorted set of tracks USER liked, scored by when
    botify:favorites:NS:track:TRACK  sorted set of users who liked TRACK, scored by when

Each set keeps the ``max_set`` most recent members (a track liked by a million users keeps only its
latest likers), and expires ``ttl`` seconds after its last like.
"""

from __future__ import annotations

import time
from typing import Any

from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import (
    Params,
    RandomTrack,
    artifact_reader,
    fallback,
    first_new,
    last_resort,
    random_new,
    session_store,
)
from botify.store.artifacts import Entry
from botify.store.batch import Batch

PREFIX = "botify:favorites"
# Likers drawn per lookup: two distinct ones, so that one is not the current user.
_LIKERS_DRAWN = 2
# An other user's liked tracks sampled before reading the whole (bounded) set.
_LIKES_SAMPLED = 32


class Favorites:
    """The favorites recommender of SPEC section 5.

    Config: ``{"type": "favorites", "threshold": 0.8, "per_user": "multidae", "per_track": "ranker",
    "ranking": "top_tracks", "top": 100, "max_set": 1000, "ttl": 2592000, "namespace": NS,
    "fallback": NAME}``.

    On each request:

    1. If ``prev_time >= threshold`` the previous track is liked: it is recorded in both directions
       and becomes the anchor. Otherwise the anchor is a random one of the user's liked tracks; if
       the user has none, the answer is Indexed for this user (step 4).
    2. A random other user who liked the anchor is drawn. The answer is a random track that user
       liked (not the anchor, not heard in this session); if they have none, what they would be
       recommended: the first new track of their ``per_user`` list.
    3. If nobody else liked the anchor (or step 2 found nothing new), the answer is the Contextual
       recommendation of the anchor: a random new track of its ``per_track`` list.
    4. Indexed for this user: the first new track of the user's ``per_user`` list, else a random new
       track of the ``top`` most popular of ``ranking``, else the fallback (avoiding the session).

    "New" means not heard in this session: favorites never repeats a track of the session.
    """

    def __init__(self, context: RecommenderContext, **params: Any) -> None:
        p = Params("favorites", params)
        self.threshold = p.number("threshold", 0.8, 0.0, 1.0)
        self.per_user = p.text("per_user", "multidae")
        self.per_track = p.text("per_track", "ranker")
        self.ranking = p.text("ranking", "top_tracks")
        self.top = p.integer("top", 100)
        self.max_set = p.integer("max_set", 1000)
        self.ttl = p.integer("ttl", 30 * 24 * 3600)
        self.namespace = p.text("namespace", f"t{self.threshold:g}")
        self.catalog = context.catalog
        self.rng = context.rng
        self.redis = context.redis
        self.reader = artifact_reader(context)
        self.sessions = session_store(context)
        self.random = RandomTrack(context.catalog, context.rng)
        self.fallback = fallback(context, p)
        p.check_unknown()

    # Keys and bookkeeping -------------------------------------------------------------------------

    def user_key(self, user: int) -> str:
        """The sorted set of tracks ``user`` liked."""
        return f"{PREFIX}:{self.namespace}:user:{user}"

    def track_key(self, track: int) -> str:
        """The sorted set of users who liked ``track``."""
        return f"{PREFIX}:{self.namespace}:track:{track}"

    def _queue_like(self, batch: Batch, user: int, track: int) -> None:
        now = time.time()
        for key, member in ((self.user_key(user), track), (self.track_key(track), user)):
            batch.add("zadd", key, {member: now})
            # Keep the newest max_set: drop ranks 0 .. -(max_set + 1), the oldest.
            batch.add("zremrangebyrank", key, 0, -(self.max_set + 1))
            batch.add("expire", key, self.ttl)

    def liked_tracks(self, user: int) -> list[int]:
        """The tracks ``user`` liked, most recent first."""
        return [int(t) for t in self.redis.zrange(self.user_key(user), 0, -1, desc=True)]

    def liking_users(self, track: int) -> list[int]:
        """The users who liked ``track``, most recent first."""
        return [int(u) for u in self.redis.zrange(self.track_key(track), 0, -1, desc=True)]

    # The request --------------------------------------------------------------------------------

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """The next track for ``user`` (see the class docstring); 1 to 3 round trips."""
        batch = Batch(self.redis)
        session = self.sessions.queue_observe(batch, user, prev_track, prev_time)
        liked = prev_time >= self.threshold
        if liked:
            self._queue_like(batch, user, prev_track)
            drawn = batch.add("zrandmember", self.track_key(prev_track), _LIKERS_DRAWN)
        else:
            drawn = batch.add("zrandmember", self.user_key(user), 1)
        own = self.reader.queue_entries(batch, self.per_user, [user])
        context = self.reader.queue_entries(batch, self.per_track, [prev_track]) if liked else None
        batch.execute()
        heard = session().heard
        (own_list,) = own()

        if liked:
            anchor = prev_track
            likers = _ints(batch.result(drawn))
            (anchor_list,) = context()
        else:
            anchors = _ints(batch.result(drawn))
            if not anchors:
                return self._indexed(user, prev_track, prev_time, own_list, heard)
            anchor = anchors[0]
            batch = Batch(self.redis)
            drawn = batch.add("zrandmember", self.track_key(anchor), _LIKERS_DRAWN)
            context = self.reader.queue_entries(batch, self.per_track, [anchor])
            batch.execute()
            likers = _ints(batch.result(drawn))
            (anchor_list,) = context()

        others = [u for u in likers if u != user]
        track = None
        if others:
            other = others[int(self.rng.integers(len(others)))]
            track = self._from_other(other, anchor, heard)
        if track is None and anchor_list is not None:
            track = random_new(anchor_list.tracks, heard, self.catalog, self.rng)
        if track is None:
            track = self._indexed(user, prev_track, prev_time, own_list, heard)
        return track

    def _from_other(self, other: int, anchor: int, heard: set[int]) -> int | None:
        """A random track ``other`` liked, else the first of their per-user list (both new)."""
        exclude = heard | {anchor}
        batch = Batch(self.redis)
        sample = batch.add("zrandmember", self.user_key(other), _LIKES_SAMPLED)
        size = batch.add("zcard", self.user_key(other))
        entries = self.reader.queue_entries(batch, self.per_user, [other])
        batch.execute()
        liked = _ints(batch.result(sample))
        track = random_new(liked, exclude, self.catalog, self.rng)
        if track is None and (batch.result(size) or 0) > len(liked):
            track = random_new(self.liked_tracks(other), exclude, self.catalog, self.rng)
        if track is None:
            (entry,) = entries()
            track = first_new(entry.tracks, exclude, self.catalog) if entry else None
        return track

    def _indexed(
        self, user: int, prev_track: int, prev_time: float, own: Entry | None, heard: set[int]
    ) -> int:
        """Indexed for this user: their per-user list, the top popular, then the fallback."""
        track = first_new(own.tracks, heard, self.catalog) if own else None
        if track is None:
            ranking = self.reader.ranking(self.ranking)
            if ranking is not None:
                track = random_new(ranking.top(self.top).tolist(), heard, self.catalog, self.rng)
        if track is None:
            track = last_resort(self.fallback, self.random, user, prev_track, prev_time, heard)
        return track


def _ints(values: Any) -> list[int]:
    out = []
    for value in values or ():
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue
    return out
