"""Sticky recommenders: a random track of the previous track's artist, or of its genre.

Neither needs training, only the catalog: they serve a cold start, whose logs the models then
learn from (``sticky_genre`` is what shows which tracks of a genre its listeners like).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from botify.params import param
from botify.recommenders.base import RecommenderContext
from botify.recommenders.support import fallback


class _Sticky:
    """A random track of the previous track's group (see the subclasses) other than itself.

    The previous track is left out when its group has other tracks (the listener has just heard
    it); a group of one gets that track again. A previous track without a group falls back to
    ``fallback``.

    Args:
        context: the catalog, the random generator, the other recommenders.
        params: the declared parameters.
    """

    @dataclass(frozen=True)
    class Params:
        fallback: str | None = param(None, "answers when the previous track has no group (none: "
                                     "a random track)", recommender=True)

    def __init__(self, context: RecommenderContext, params: Params) -> None:
        self.catalog = context.catalog
        self.rng = context.rng
        self._fallback = fallback(context, params.fallback)

    def group(self, track: int) -> Sequence[int]:  # pragma: no cover - abstract
        """The ids of the tracks ``track`` sticks to (empty: none)."""
        raise NotImplementedError

    def recommend_next(self, user: int, prev_track: int, prev_time: float) -> int:
        """A random track of ``prev_track``'s group other than ``prev_track``."""
        tracks = self.group(prev_track)
        count = len(tracks)
        if count > 1:
            pick = int(self.rng.integers(count - 1))
            # Draw among the others: skip over prev_track's position.
            track = tracks[pick]
            return int(tracks[count - 1]) if track == prev_track else int(track)
        if count == 1:
            return int(tracks[0])
        return self._fallback.recommend_next(user, prev_track, prev_time)


class StickyArtist(_Sticky):
    """Another track by the artist of the previous one (the course's StickyArtist)."""

    type_name = "sticky_artist"

    def group(self, track: int) -> Sequence[int]:
        """The tracks of ``track``'s artist."""
        return self.catalog.artist_tracks(track)


class StickyGenre(_Sticky):
    """Another track of the previous one's genre, by any artist; the artist's when it has none."""

    type_name = "sticky_genre"

    def group(self, track: int) -> Sequence[int]:
        """The tracks of ``track``'s genre, or of its artist for a track without a genre."""
        return self.catalog.genre_tracks(track) or self.catalog.artist_tracks(track)
