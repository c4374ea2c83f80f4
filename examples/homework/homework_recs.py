"""A homework recommender: item-to-item lists, mixed with the session's favourite artist.

Configured in a plan as ``type = "homework_recs:ArtistMix"``; built by botify like its own.
"""

from dataclasses import dataclass

from botify.params import param
from botify.recommenders.support import SessionRecommender, first_new, last_resort, random_new
from botify.store.artifacts import PER_TRACK
from botify.store.batch import Batch


class ArtistMix(SessionRecommender):
    """Mostly the first unheard track of the longest-heard recent track's list; sometimes another
    unheard track by the artist the session has listened to longest."""

    no_repeats = True  # never recommends a track the session has heard (while others exist)

    @dataclass(frozen=True)
    class Params:
        recs: str = param("item_knn", "per-track lists", artifact=PER_TRACK)
        artist_share: float = param(0.3, "share of answers by the favourite artist", low=0, high=1)
        fallback: str | None = param("sticky_artist", "answers when nothing is new",
                                     recommender=True)

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        batch = Batch(self.redis)
        session = self.sessions.queue_observe(batch, user, prev_track, prev_time, recent=True)
        batch.execute()
        state = session()
        heard: dict[int, float] = {}
        for track, time in state.recent:
            heard[track] = heard.get(track, 0.0) + time
        anchor = max(heard, key=heard.get)
        if self.rng.random() < self.params.artist_share:
            track = random_new(self.catalog.artist_tracks(anchor), state.heard, self.catalog,
                               self.rng)
            if track is not None:
                return track
        (entry,) = self.reader.entries(self.params.recs, [anchor])
        track = first_new(entry.tracks, state.heard, self.catalog) if entry else None
        if track is None:  # the fallback's answer, unless heard: then a random unheard track
            track = last_resort(self.fallback, self.random, user, prev_track, prev_time,
                                state.heard)
        return track
