"""Favorites: recommend what users who liked the same track liked.

Likes live in Redis in both directions, under a namespace (by default one per threshold, so two
arms with different thresholds never mix their likes, and arms with the same one share them)::

    botify:favorites:NS:user:{USER}  sorted set of tracks USER liked, scored by when
    botify:favorites:NS:track:TRACK  sorted set of users who liked TRACK, scored by when

(the braces: a user's likes are in the Redis Cluster slot of the user's session).

Each set keeps the ``max_set`` most recent members (a track liked by a million users keeps only its
latest likers), and expires ``ttl`` seconds after its last like.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from botify.params import param
from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import SessionRecommender, first_new, last_resort, random_new
from botify.store.artifacts import PER_TRACK, PER_USER, RANKING, Entry
from botify.store.batch import Batch
from botify.store.sessions import user_tag

PREFIX = "botify:favorites"

# A uniformly random member of a sorted set other than ARGV[2], from the uniform number ARGV[1]
# drawn by the caller's generator (so answers are reproducible by seed; ZRANDMEMBER is not).
_PICK_MEMBER = """
local n = redis.call('ZCARD', KEYS[1])
local skip = -1
if ARGV[2] ~= '' then
  local rank = redis.call('ZRANK', KEYS[1], ARGV[2])
  if rank then skip = rank; n = n - 1 end
end
if n <= 0 then return false end
local i = math.floor(tonumber(ARGV[1]) * n)
if i >= n then i = n - 1 end
if skip >= 0 and i >= skip then i = i + 1 end
return redis.call('ZRANGE', KEYS[1], i, i)[1]
"""


class Favorites(SessionRecommender):
    """Recommends what another user who liked the anchor track liked, with fallbacks.

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

    type_name = "favorites"
    no_repeats: ClassVar[bool] = True  # never recommends a track of the session

    @dataclass(frozen=True)
    class Params:
        threshold: float = param(0.38, "a track heard at least this much is liked (tuned by "
                                 "`botify tune favorites-threshold`)", low=0.0, high=1.0)
        per_user: str = param("multidae", "per-user lists (for users without likes)",
                              artifact=PER_USER)
        per_track: str = param("ranker", "per-track lists (when nobody else liked the anchor)",
                               artifact=PER_TRACK)
        ranking: str = param("top_tracks", "popular tracks, the last list resort",
                             artifact=RANKING)
        top: int = param(100, "how many popular tracks are drawn from", low=1)
        max_set: int = param(1000, "likes kept per user and likers per track (the newest)",
                             low=1)
        ttl: int = param(30 * 24 * 3600, "seconds likes live after the last one", low=1)
        namespace: str | None = param(None, "where likes are kept (none: one per threshold)")
        fallback: str | None = param(None, "answers when nothing else does (none: a random "
                                     "track)", recommender=True)

    def __init__(self, context: RecommenderContext, params: Params) -> None:
        super().__init__(context, params)
        self.threshold = params.threshold
        self.per_user = params.per_user
        self.per_track = params.per_track
        self.ranking = params.ranking
        self.top = params.top
        self.max_set = params.max_set
        self.ttl = params.ttl
        self.namespace = params.namespace or f"t{self.threshold:g}"

    # Keys and bookkeeping -------------------------------------------------------------------------

    def user_key(self, user: int) -> str:
        """The sorted set of tracks ``user`` liked."""
        return f"{PREFIX}:{self.namespace}:user:{user_tag(user)}"

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

    def _queue_pick(self, batch: Batch, key: str, skip: int | None = None) -> int:
        """Queue drawing a random member of ``key`` other than ``skip`` (result: bytes or None)."""
        args = [float(self.rng.random()), "" if skip is None else skip]
        return batch.add_script(_PICK_MEMBER, [key], args)

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
            drawn = self._queue_pick(batch, self.track_key(prev_track), skip=user)
        else:
            drawn = self._queue_pick(batch, self.user_key(user))
        own = self.reader.queue_entries(batch, self.per_user, [user])
        context = self.reader.queue_entries(batch, self.per_track, [prev_track]) if liked else None
        batch.execute()
        heard = session().heard
        (own_list,) = own()

        if liked:
            anchor = prev_track
        else:
            anchor = _int(batch.result(drawn))
            if anchor is None:
                return self._indexed(user, prev_track, prev_time, own_list, heard)
            batch = Batch(self.redis)
            drawn = self._queue_pick(batch, self.track_key(anchor), skip=user)
            context = self.reader.queue_entries(batch, self.per_track, [anchor])
            batch.execute()
        other = _int(batch.result(drawn))
        (anchor_list,) = context()

        track = None
        if other is not None:
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
        # The whole set: it is bounded by max_set, and what is new depends on this session.
        liked = batch.add("zrange", self.user_key(other), 0, -1)
        entries = self.reader.queue_entries(batch, self.per_user, [other])
        batch.execute()
        track = random_new(_ints(batch.result(liked)), exclude, self.catalog, self.rng)
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


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _ints(values: Any) -> list[int]:
    out = []
    for value in values or ():
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue
    return out
