"""StickyArtist: a random track by the artist of the previous track."""

from __future__ import annotations

from botify.recommenders.base import Recommender, RecommenderContext


class StickyArtist:
    """Recommends another track by the artist of the previous one.

    The previous track itself is left out when its artist has other tracks (the listener has just
    heard it); an artist with a single track gets that track again. An unknown previous track falls
    back to ``fallback``.

    Args:
        context: the catalog, the random generator, the other recommenders.
        fallback: name of the configured recommender to use when the previous track is unknown;
            a uniformly random track when None.
    """

    def __init__(self, context: RecommenderContext, fallback: str | None = None) -> None:
        self.catalog = context.catalog
        self.rng = context.rng
        # Resolved now, so a misnamed fallback fails at startup, not on a request.
        self._fallback: Recommender | None = (
            None if fallback is None else context.recommenders[fallback]
        )

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """A random track by ``prev_track``'s artist other than ``prev_track``."""
        tracks = self.catalog.artist_tracks(prev_track)
        count = len(tracks)
        if count > 1:
            pick = int(self.rng.integers(count - 1))
            # Draw among the others: skip over prev_track's position.
            track = tracks[pick]
            return int(tracks[count - 1]) if track == prev_track else int(track)
        if count == 1:
            return int(tracks[0])
        if self._fallback is None:
            return self.catalog.random_track(self.rng)
        return self._fallback.recommend_next(user, prev_track, prev_time)
