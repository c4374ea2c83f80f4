"""A contextual ranker in PyTorch: embeddings of the previous and the next track predict ``time``.

Each track has two embeddings, one as the context (the previous track) and one as the candidate
(the next track). The predicted time of ``prev -> next`` is their dot product (``variant="dot"``)
or their cosine (``variant="cosine"``), trained with the squared error against the time listened
(as in the course's week-4 seminar). Exported as the top-k next tracks per track, with the
predicted times as weights (the hybrid recommender samples by them).

With the catalog (``catalog=``: artists and genres), a track's embedding in each role is the
sum of its own (id) embedding, its artist's and its genre's. A day of cold-start logs sees most
tracks once or never, so the id embeddings start at zero, learn slowly and are used only for tracks
seen at least ``min_count`` times in that role: every other track is exactly its artist plus its
genre (an artist or genre never seen in the role counts as zero), and an unseen track cannot win on
a random start. The lists then cover every catalog track, their candidates are the key's genre
(tracks of another genre are hardly listened to), and each list holds at most ``per_artist`` tracks
of one artist (the key counting for its own artist), as listeners tire of an artist heard again.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from botify.events import TIME
from botify.store.artifacts import PER_TRACK
from botify.training.artifacts import RecommendationLists
from botify.training.catalog import TrackCatalog
from botify.training.dataset import NEXT, PREV, IdIndex
from botify.training.reproducibility import TORCH_THREADS, seeded

VARIANTS = ("dot", "cosine")
# The side features' tables (with the catalog), by their attribute names in the model.
SIDE_TABLES = ("artist_context", "artist_candidate", "genre_context", "genre_candidate")


class _PairModel(nn.Module):
    """Context and candidate embeddings; with side features, id + artist + genre embeddings."""

    def __init__(
        self,
        n_tracks: int,
        dim: int,
        variant: str,
        side: tuple[torch.Tensor, torch.Tensor, int, int] | None = None,
    ) -> None:
        super().__init__()
        self.variant = variant
        # Sparse gradients: a step updates the rows of its batch only, not the whole tables.
        self.context = nn.Embedding(n_tracks, dim, sparse=True)
        self.candidate = nn.Embedding(n_tracks, dim, sparse=True)
        self.side = side is not None
        if side is None:
            # Small weights: the initial dot products start near 0 instead of ~N(0, dim).
            nn.init.normal_(self.context.weight, std=0.1)
            nn.init.normal_(self.candidate.weight, std=0.1)
            return
        artist, genre, n_artists, n_genres = side
        self.register_buffer("artist", artist)
        self.register_buffer("genre", genre)
        # Ids start at zero: a track is its artist plus its genre until its own transitions move it.
        nn.init.zeros_(self.context.weight)
        nn.init.zeros_(self.candidate.weight)
        self.artist_context = nn.Embedding(n_artists, dim, sparse=True)
        self.artist_candidate = nn.Embedding(n_artists, dim, sparse=True)
        self.genre_context = nn.Embedding(n_genres, dim, sparse=True)
        self.genre_candidate = nn.Embedding(n_genres, dim, sparse=True)
        for name in SIDE_TABLES:
            nn.init.normal_(getattr(self, name).weight, std=0.1)

    def id_parameters(self) -> list[nn.Parameter]:
        """The id embeddings' tables."""
        return [self.context.weight, self.candidate.weight]

    def side_parameters(self) -> list[nn.Parameter]:
        """The artist and genre tables (empty without side features)."""
        return [getattr(self, name).weight for name in SIDE_TABLES] if self.side else []

    def forward(
        self, prev: torch.Tensor, nxt: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Predicted times, and the mean squared norms of the id and the side embeddings."""
        context, candidate = self.context(prev), self.candidate(nxt)
        id_penalty = (context.pow(2).sum(dim=1) + candidate.pow(2).sum(dim=1)).mean()
        side_penalty = torch.zeros(())
        if self.side:
            side_context = self.artist_context(self.artist[prev]) + self.genre_context(
                self.genre[prev]
            )
            side_candidate = self.artist_candidate(self.artist[nxt]) + self.genre_candidate(
                self.genre[nxt]
            )
            context = context + side_context
            candidate = candidate + side_candidate
            side_penalty = (
                side_context.pow(2).sum(dim=1) + side_candidate.pow(2).sum(dim=1)
            ).mean()
        if self.variant == "cosine":
            predicted = F.cosine_similarity(context, candidate, dim=1)
        else:
            predicted = (context * candidate).sum(dim=1)
        return predicted, id_penalty, side_penalty


class ContextualRanker:
    """The contextual ranker: hyperparameters here, learned embeddings after :meth:`fit`.

    Args:
        dim: embedding size (on simulator logs, 64 with 10 epochs reached recall@10 0.16 on the
            next task where 32 with 5 reached 0.08).
        variant: ``"dot"`` or ``"cosine"``.
        epochs: passes over the transitions.
        batch_size: transitions per optimizer step.
        lr: the learning rate of Adam (the sparse variant).
        l2: weight of the squared norm of the embeddings in the batch (keeps rare tracks small).
        k: recommendations per track when exported.
        min_count: a track is recommended only if it was the next track of at least this many
            transitions: a rarely seen track's embedding is mostly its random start, which the
            cosine variant cannot tell from a learned one (its norm is divided out). With the
            catalog, every catalog track is a candidate, but a track's id embedding counts in a
            role only when it was seen that often in it (else it is its artist plus its genre).
        seed: seeds the initialization and the shuffling.
        threads: PyTorch threads.
        progress: show a progress bar with the loss of each epoch.
        catalog: the tracks' artists and genres as side features (see the module docstring);
            without it, the plain ranker of track ids.
        id_l2: with the catalog, the weight of the id embeddings' squared norm (``l2`` then weighs
            the artist and genre part).
        id_lr: with the catalog, the learning rate of the id embeddings (default ``lr / 10``), so
            that they refine the artist and genre rather than memorise single transitions.
        per_artist: with the catalog, the most tracks of one artist in a list, the key's artist
            counting the key itself (``2`` allows one more of its artist).
    """

    def __init__(
        self,
        dim: int = 64,
        variant: str = "dot",
        epochs: int = 10,
        batch_size: int = 2048,
        lr: float = 0.01,
        l2: float = 1e-4,
        k: int = 100,
        min_count: int = 3,
        seed: int = 0,
        threads: int = TORCH_THREADS,
        progress: bool = True,
        catalog: TrackCatalog | None = None,
        id_l2: float = 1e-2,
        id_lr: float | None = None,
        per_artist: int = 2,
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if per_artist < 1:
            raise ValueError(f"per_artist must be at least 1, got {per_artist}")
        self.dim = dim
        self.variant = variant
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.l2 = l2
        self.k = k
        self.min_count = min_count
        self.seed = seed
        self.threads = threads
        self.progress = progress
        self.catalog = catalog
        self.id_l2 = id_l2
        self.id_lr = lr / 10 if id_lr is None else id_lr
        self.per_artist = per_artist
        self.tracks: IdIndex | None = None
        self.context_embeddings: np.ndarray | None = None
        self.candidate_embeddings: np.ndarray | None = None
        self.is_context: np.ndarray | None = None
        self.is_candidate: np.ndarray | None = None
        # With the catalog: per track (in ``tracks`` order) its artist and genre codes (-1 for a
        # track only the logs know), and the artist and genre tables of both roles.
        self.artist: np.ndarray | None = None
        self.genre: np.ndarray | None = None
        self.side_tables: dict[str, np.ndarray] = {}
        self.losses: list[float] = []

    def fit(self, pairs: pd.DataFrame) -> ContextualRanker:
        """Learn from transitions (the output of ``dataset.transitions``).

        Raises:
            ValueError: there are no transitions.
        """
        if pairs.empty:
            raise ValueError("no transitions to learn from")
        rng = seeded(self.seed, self.threads)
        observed = np.concatenate([pairs[PREV].to_numpy(), pairs[NEXT].to_numpy()])
        if self.catalog is not None:
            observed = np.concatenate([observed, self.catalog.tracks.ids])
        tracks = IdIndex.of(observed)
        prev = torch.from_numpy(tracks.lookup(pairs[PREV].to_numpy()))
        nxt = torch.from_numpy(tracks.lookup(pairs[NEXT].to_numpy()))
        target = torch.from_numpy(pairs[TIME].to_numpy(dtype=np.float32))
        side = None
        if self.catalog is not None:
            _, artist, genre = self.catalog.codes(tracks.ids)
            # Tracks the catalog does not know share one extra artist and one extra genre.
            n_artists, n_genres = self.catalog.n_artists, self.catalog.n_genres
            side = (
                torch.from_numpy(np.where(artist >= 0, artist, n_artists)),
                torch.from_numpy(np.where(genre >= 0, genre, n_genres)),
                n_artists + 1,
                n_genres + 1,
            )
        model = _PairModel(len(tracks), self.dim, self.variant, side)
        if side is None:
            optimizer = torch.optim.SparseAdam(list(model.parameters()), lr=self.lr)
            id_l2 = self.l2
        else:
            optimizer = torch.optim.SparseAdam(
                [
                    {"params": model.id_parameters(), "lr": self.id_lr},
                    {"params": model.side_parameters(), "lr": self.lr},
                ]
            )
            id_l2 = self.id_l2
        self.losses = []
        epochs = tqdm(
            range(self.epochs),
            desc=f"ranker ({self.variant})",
            unit="epoch",
            disable=not self.progress,
        )
        for _ in epochs:
            order = torch.from_numpy(rng.permutation(len(target)))
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                predicted, id_penalty, side_penalty = model(prev[batch], nxt[batch])
                error = F.mse_loss(predicted, target[batch])
                loss = error + id_l2 * id_penalty + self.l2 * side_penalty
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += error.item() * len(batch)
            self.losses.append(total / len(order))
            epochs.set_postfix(mse=f"{self.losses[-1]:.4f}")
        self.tracks = tracks
        context = model.context.weight.detach().numpy().copy()
        candidate = model.candidate.weight.detach().numpy().copy()
        as_context = np.bincount(prev.numpy(), minlength=len(tracks))
        as_candidate = np.bincount(nxt.numpy(), minlength=len(tracks))
        if side is None:
            # Only tracks seen in a role have a trained embedding for it.
            self.is_context = as_context > 0
            self.is_candidate = as_candidate >= self.min_count
        else:
            self.side_tables = {
                name: getattr(model, name).weight.detach().numpy().copy()
                for name in SIDE_TABLES
            }
            artist_code, genre_code = side[0].numpy(), side[1].numpy()
            # An artist or genre never seen in a role keeps its random start: it counts as zero.
            for role, counts in (("context", as_context), ("candidate", as_candidate)):
                for part, code in (("artist", artist_code), ("genre", genre_code)):
                    table = self.side_tables[f"{part}_{role}"]
                    seen = np.bincount(code, weights=counts, minlength=len(table)) > 0
                    table[~seen] = 0.0
            # An id embedding counts only for a track seen often enough in the role.
            context[as_context < self.min_count] = 0.0
            candidate[as_candidate < self.min_count] = 0.0
            context += self.side_tables["artist_context"][artist_code]
            context += self.side_tables["genre_context"][genre_code]
            candidate += self.side_tables["artist_candidate"][artist_code]
            candidate += self.side_tables["genre_candidate"][genre_code]
            in_catalog = self.catalog.tracks.lookup(tracks.ids) >= 0
            self.artist = np.where(in_catalog, artist_code, -1)
            self.genre = np.where(in_catalog, genre_code, -1)
            # Every catalog track has a list of its genre and is in the lists of its genre.
            self.is_context = in_catalog
            self.is_candidate = in_catalog
        self.context_embeddings = context
        self.candidate_embeddings = candidate
        return self

    def _fitted(self) -> tuple[IdIndex, np.ndarray, np.ndarray]:
        if (
            self.tracks is None
            or self.context_embeddings is None
            or self.candidate_embeddings is None
        ):
            raise RuntimeError("call fit() first")
        context, candidate = self.context_embeddings, self.candidate_embeddings
        if self.variant == "cosine":
            context = context / np.maximum(np.linalg.norm(context, axis=1, keepdims=True), 1e-8)
            candidate = candidate / np.maximum(
                np.linalg.norm(candidate, axis=1, keepdims=True), 1e-8
            )
        return self.tracks, context, candidate

    def predict(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """Predicted times of the transitions ``prev[i] -> nxt[i]`` (ids); NaN for unknown ids."""
        tracks, context, candidate = self._fitted()
        p, n = tracks.lookup(prev), tracks.lookup(nxt)
        known = (p >= 0) & (n >= 0)
        out = np.full(len(p), np.nan, dtype=np.float64)
        out[known] = np.einsum("ij,ij->i", context[p[known]], candidate[n[known]])
        return out

    def recommendations(self, k: int | None = None, chunk: int = 1024) -> RecommendationLists:
        """The top-``k`` next tracks of every track seen as a previous track, with predicted times.

        With the catalog: of every catalog track, among the tracks of its genre, at most
        ``per_artist`` per artist (the key counting for its own). A track never recommends itself
        (a repeat in a session is listened to for 0).
        """
        k = self.k if k is None else k
        if self.artist is not None and self.genre is not None:
            return self._by_genre(k, chunk)
        tracks, context, candidate = self._fitted()
        keys = np.flatnonzero(self.is_context)
        candidates = np.flatnonzero(self.is_candidate)
        k = min(k, len(candidates))
        items: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        cand = torch.from_numpy(candidate[candidates])
        position = np.full(len(tracks), -1, dtype=np.int64)
        position[candidates] = np.arange(len(candidates))
        with torch.no_grad():
            for start in range(0, len(keys), chunk):
                rows = keys[start : start + chunk]
                scores = torch.from_numpy(context[rows]) @ cand.T
                own = position[rows]
                mine = np.flatnonzero(own >= 0)
                scores[torch.from_numpy(mine), torch.from_numpy(own[mine])] = -np.inf
                values, index = torch.topk(scores, k, dim=1)
                values, index = values.numpy(), index.numpy()
                for row_values, row_index in zip(values, index, strict=True):
                    finite = np.isfinite(row_values)
                    items.append(tracks.ids[candidates[row_index[finite]]])
                    weights.append(row_values[finite].astype(np.float64))
        return RecommendationLists(
            kind=PER_TRACK, keys=tracks.ids[keys], items=items, weights=weights
        )

    def _by_genre(self, k: int, chunk: int) -> RecommendationLists:
        """The lists with the catalog: candidates of the key's genre, capped per artist."""
        tracks, context, candidate = self._fitted()
        assert self.artist is not None and self.genre is not None
        lists: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for genre in np.unique(self.genre[self.genre >= 0]).tolist():
            pool = np.flatnonzero(self.genre == genre)
            pool_artist = self.artist[pool]
            cand = torch.from_numpy(candidate[pool])
            with torch.no_grad():
                for start in range(0, len(pool), chunk):
                    rows = np.arange(start, min(start + chunk, len(pool)))
                    scores = torch.from_numpy(context[pool[rows]]) @ cand.T
                    scores[torch.arange(len(rows)), torch.from_numpy(rows)] = -np.inf
                    for row, items, values in self._capped_top(scores, rows, pool_artist, k):
                        lists[int(pool[row])] = (tracks.ids[pool[items]], values)
        keys = np.array(sorted(lists), dtype=np.int64)
        return RecommendationLists(
            kind=PER_TRACK,
            keys=tracks.ids[keys],
            items=[lists[key][0] for key in keys.tolist()],
            weights=[lists[key][1] for key in keys.tolist()],
        )

    def _capped_top(
        self, scores: torch.Tensor, rows: np.ndarray, pool_artist: np.ndarray, k: int
    ) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Each row's top ``k`` columns under the per-artist cap, with their scores.

        Looks at the top ``4 k`` first, and deeper (doubling) for the rows still short, since one
        artist's tracks can fill the head of a row.
        """
        out: list[tuple[int, np.ndarray, np.ndarray]] = []
        pending = np.arange(len(rows))
        depth = min(scores.shape[1], 4 * k)
        while len(pending):
            values, index = torch.topk(scores[torch.from_numpy(pending)], depth, dim=1)
            values, index = values.numpy(), index.numpy()
            keep = np.isfinite(values) & _under_cap(
                pool_artist[index], pool_artist[rows[pending]], self.per_artist
            )
            keep &= np.cumsum(keep, axis=1) <= k
            full = (keep.sum(axis=1) >= k) | (depth >= scores.shape[1])
            for i in np.flatnonzero(full).tolist():
                mask = keep[i]
                row_values = values[i][mask].astype(np.float64)
                out.append((int(rows[pending[i]]), index[i][mask], row_values))
            pending = pending[~full]
            depth = min(scores.shape[1], 2 * depth)
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Save the learned arrays and hyperparameters to ``.npz``."""
        tracks, _, _ = self._fitted()
        side = {}
        if self.artist is not None and self.genre is not None:
            side = {"artist": self.artist, "genre": self.genre, **self.side_tables}
        np.savez(
            path,
            ids=tracks.ids,
            context=self.context_embeddings,
            candidate=self.candidate_embeddings,
            is_context=self.is_context,
            is_candidate=self.is_candidate,
            variant=np.array(self.variant),
            k=np.array(self.k),
            per_artist=np.array(self.per_artist),
            **side,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> ContextualRanker:
        """Load a ranker saved by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            ranker = cls(
                dim=data["context"].shape[1],
                variant=str(data["variant"]),
                k=int(data["k"]),
                per_artist=int(data["per_artist"]) if "per_artist" in data else 2,
            )
            ranker.tracks = IdIndex(data["ids"])
            ranker.context_embeddings = data["context"]
            ranker.candidate_embeddings = data["candidate"]
            ranker.is_context = data["is_context"]
            ranker.is_candidate = data["is_candidate"]
            if "artist" in data:
                ranker.artist = data["artist"]
                ranker.genre = data["genre"]
                ranker.side_tables = {name: data[name] for name in SIDE_TABLES}
        return ranker


def _under_cap(artists: np.ndarray, own: np.ndarray, per_artist: int) -> np.ndarray:
    """Which entries of each row stay under the per-artist cap, taking them in order.

    Args:
        artists: (rows, depth) the artist of each ranked candidate, best first.
        own: (rows,) the key's artist, which counts once in its row already.
        per_artist: the most tracks of one artist in a row, the key included.

    Returns:
        (rows, depth) booleans: the entry is among the first ``per_artist`` of its artist in its
        row (``per_artist - 1`` for the key's artist).
    """
    rows, depth = artists.shape
    order = np.argsort(artists, axis=1, kind="stable")
    ranked = np.take_along_axis(artists, order, axis=1)
    column = np.broadcast_to(np.arange(depth), (rows, depth))
    starts = np.ones((rows, depth), dtype=bool)
    starts[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    first = np.maximum.accumulate(np.where(starts, column, 0), axis=1)
    rank = np.empty((rows, depth), dtype=np.int64)
    np.put_along_axis(rank, order, column - first, axis=1)
    cap = np.where(artists == own[:, None], per_artist - 1, per_artist)
    return rank < cap
