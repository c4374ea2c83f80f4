"""A factorization with side features, in the spirit of LightFM, ranked from implicit feedback.

A track's representation is the sum of the embeddings of its features: its own id, its artist and
its genre (from the catalog), and its bias the sum of their biases; a user's is the user's own
embedding. The score of ``(user, track)`` is ``user . track + bias(track)``. The positives are the
distinct ``(user, track)`` pairs listened past the threshold; each is ranked against ``negatives``
tracks drawn uniformly from the tracks of the logs (a draw that is one of the user's positives does
not count), with one of two losses:

- ``bpr`` (Rendle et al.): ``softplus(negative - positive)`` averaged over the draws;
- ``warp`` (Weston et al.), batched: the draws within a margin of 1 of the positive violate it;
  their mean hinge ``1 - positive + negative`` is weighted by ``log(1 + rank)``, the rank of the
  positive estimated as ``(tracks - 1) * violations / draws``, so that a positive ranked below
  many tracks moves the most.

Each batch's gradients (PyTorch autograd on the rows it gathered) update only those rows, by
Adagrad as in LightFM; the L2 penalty weighs the squared norms of the gathered rows.

With the catalog, the id embeddings start at zero, so that a track is its artist plus its genre
until its own listens move it, and a catalog track no event plays (never drawn) keeps its id at
zero: it is scored by its artist and genre alone (with the logs' mean id bias), so a cold track of
a genre a user likes ranks above one of a genre they do not. An artist or genre no logged track
has counts as zero. Tracks only the logs know share one extra artist and one extra genre. Without
the catalog it is plain BPR-MF (or WARP-MF) over track ids, from random starting embeddings.

Three exports: a user's list is their top ``k`` tracks by score, the tracks they heard (any event)
left out; a track's list is its ``track_k`` nearest tracks by the cosine of the representations
(the embeddings without the biases, which are popularity rather than direction), itself left out;
and the representations themselves, row = track id.

Written here rather than taken from the ``lightfm`` package: its only distribution is a source
archive (1.17) whose ``setup.py`` fails under pip's default isolated build with current setuptools
(``'dict' object has no attribute '__LIGHTFM_SETUP__'``). It builds only with
``--no-build-isolation`` and Cython installed beforehand (it then runs on numpy 2.4), which neither
``pip install -r requirements.txt`` nor the Docker image do.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from tqdm import tqdm

from botify.events import TRACK, USER
from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import ItemEmbeddings, RecommendationLists
from botify.training.catalog import TrackCatalog
from botify.training.dataset import POSITIVE_THRESHOLD, IdIndex, positives
from botify.training.reproducibility import TORCH_THREADS, seeded

LOSSES = ("bpr", "warp")
# The scale of the random starting embeddings.
_INIT_STD = 0.1
# Adagrad's guard against a zero accumulator.
_ADAGRAD_EPS = 1e-6


class _Table:
    """An embedding table (biases are tables of width 1) with its Adagrad accumulator."""

    def __init__(self, rows: int, width: int, std: float) -> None:
        self.weight = torch.randn(rows, width) * std if std > 0 else torch.zeros(rows, width)
        self.accumulator = torch.zeros(rows, width)

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """The rows of ``index`` (any shape), as a leaf whose gradient :meth:`update` applies."""
        return self.weight[index].requires_grad_()

    def update(self, index: torch.Tensor, rows: torch.Tensor, lr: float) -> None:
        """Adagrad steps on the rows ``index`` from the gradient of ``rows`` (their gather).

        One step per occurrence, as LightFM's per-sample updates: a row gathered twice takes both
        gradients (no deduplication, which would cost a sort per table and step).
        """
        if rows.grad is None:
            return
        index = index.reshape(-1)
        grad = rows.grad.reshape(len(index), -1)
        self.accumulator.index_add_(0, index, grad * grad)
        step = grad / (self.accumulator[index].sqrt() + _ADAGRAD_EPS)
        self.weight.index_add_(0, index, step, alpha=-lr)


class _Factors:
    """User embeddings; per track, its features' embeddings and biases (id, artist, genre)."""

    def __init__(
        self, n_users: int, n_tracks: int, dim: int,
        side: tuple[torch.Tensor, torch.Tensor, int, int] | None,
    ) -> None:
        self.user = _Table(n_users, dim, _INIT_STD)
        # feature name -> (code of each track, embedding table, bias table)
        self.features = {
            "id": (torch.arange(n_tracks), _Table(n_tracks, dim, 0.0 if side else _INIT_STD),
                   _Table(n_tracks, 1, 0.0)),
        }
        if side is not None:
            artist, genre, n_artists, n_genres = side
            for name, codes, rows in (("artist", artist, n_artists), ("genre", genre, n_genres)):
                self.features[name] = (codes, _Table(rows, dim, _INIT_STD), _Table(rows, 1, 0.0))

    def representations(self) -> tuple[np.ndarray, np.ndarray]:
        """Every track's representation and bias."""
        vectors = sum(table.weight[codes] for codes, table, _ in self.features.values())
        biases = sum(bias.weight[codes, 0] for codes, _, bias in self.features.values())
        return vectors.numpy().copy(), biases.numpy().copy()


class HybridMF:
    """The factorization: hyperparameters here, user and track factors after :meth:`fit`.

    Args:
        dim: size of the embeddings.
        loss: ``"bpr"`` or ``"warp"`` (see the module docstring).
        epochs: passes over the positives.
        batch_size: positives per step.
        negatives: tracks drawn per positive.
        lr: the learning rate of Adagrad.
        l2: weight of the squared norms of the batch's user and feature rows (per positive).
        k: tracks per user when exported.
        track_k: tracks per track when exported.
        threshold: a listen is a positive when ``time > threshold``.
        seed: seeds the initialization, the shuffling and the draws.
        threads: PyTorch threads.
        progress: show a progress bar with the loss of each epoch.
        catalog: the tracks' artists and genres as side features; without it, plain MF.
        chunk: rows scored at a time when exported.
    """

    def __init__(
        self,
        dim: int = 64,
        loss: str = "bpr",
        epochs: int = 20,
        batch_size: int = 4096,
        negatives: int = 8,
        lr: float = 0.05,
        l2: float = 1e-3,
        k: int = 50,
        track_k: int = 100,
        threshold: float = POSITIVE_THRESHOLD,
        seed: int = 0,
        threads: int = TORCH_THREADS,
        progress: bool = True,
        catalog: TrackCatalog | None = None,
        chunk: int = 1024,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        for label, value in (("dim", dim), ("epochs", epochs), ("batch_size", batch_size),
                             ("negatives", negatives), ("k", k), ("track_k", track_k),
                             ("chunk", chunk)):
            if value < 1:
                raise ValueError(f"{label} must be at least 1, got {value}")
        self.dim = dim
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.negatives = negatives
        self.lr = lr
        self.l2 = l2
        self.k = k
        self.track_k = track_k
        self.threshold = threshold
        self.seed = seed
        self.threads = threads
        self.progress = progress
        self.catalog = catalog
        self.chunk = chunk
        self.users: IdIndex | None = None
        self.tracks: IdIndex | None = None
        self.user_factors: np.ndarray | None = None
        self.track_factors: np.ndarray | None = None
        self.track_biases: np.ndarray | None = None
        self.heard: sp.csr_matrix | None = None
        self.losses: list[float] = []

    def fit(self, events: pd.DataFrame) -> HybridMF:
        """Learn from events (any frame with ``user, track, time``); users need a positive.

        Raises:
            ValueError: no event is a positive, or the logs hold a single track.
        """
        positive = positives(events, self.threshold)
        rng = seeded(self.seed, self.threads)
        logged = IdIndex.of(events[TRACK].to_numpy())
        if len(logged) < 2:
            raise ValueError("the logs hold a single track: nothing to rank it against")
        ids = logged.ids if self.catalog is None else np.union1d(logged.ids,
                                                                  self.catalog.tracks.ids)
        tracks, users = IdIndex(ids), IdIndex.of(positive[USER].to_numpy())
        n_tracks = len(tracks)
        pairs = np.unique(users.lookup(positive[USER].to_numpy()) * n_tracks
                          + tracks.lookup(positive[TRACK].to_numpy()))
        # Negatives are drawn from the logs' tracks: a catalog-only track keeps its id at zero.
        pool = tracks.lookup(logged.ids)
        side = self._side(tracks)
        # The starting tables come from torch's generator (seeded), the draws from rng.
        model = _Factors(len(users), n_tracks, self.dim, side)
        self.losses = []
        bar = tqdm(range(self.epochs), desc=f"hybrid_mf ({self.loss})", unit="epoch",
                   disable=not self.progress)
        for _ in bar:
            order = pairs[rng.permutation(len(pairs))]
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                user_rows = batch // n_tracks
                drawn = pool[rng.integers(0, len(pool), size=(len(batch), self.negatives))]
                keys = user_rows[:, None] * n_tracks + drawn
                found = pairs[np.minimum(np.searchsorted(pairs, keys), len(pairs) - 1)]
                valid = torch.from_numpy(found != keys)  # a user's positive is no negative
                items = torch.from_numpy(np.concatenate([(batch % n_tracks)[:, None], drawn], 1))
                loss = self._step(model, torch.from_numpy(user_rows), items, valid, len(pool))
                total += loss * len(batch)
            self.losses.append(total / len(pairs))
            bar.set_postfix(loss=f"{self.losses[-1]:.4f}")
        self.users, self.tracks = users, tracks
        self.user_factors = model.user.weight.numpy().copy()
        if side is not None:
            self._forget_unlogged(model, pool, n_tracks)
        self.track_factors, self.track_biases = model.representations()
        heard_users = users.lookup(events[USER].to_numpy())
        known = heard_users >= 0
        self.heard = sp.csr_matrix(
            (np.ones(int(known.sum()), dtype=np.int8),
             (heard_users[known], tracks.lookup(events[TRACK].to_numpy()[known]))),
            shape=(len(users), n_tracks),
        )
        return self

    def _side(self, tracks: IdIndex) -> tuple[torch.Tensor, torch.Tensor, int, int] | None:
        """Artist and genre codes per track (one extra code each for unknowns), and how many."""
        if self.catalog is None:
            return None
        _, artist, genre = self.catalog.codes(tracks.ids)
        n_artists, n_genres = self.catalog.n_artists, self.catalog.n_genres
        return (
            torch.from_numpy(np.where(artist >= 0, artist, n_artists)),
            torch.from_numpy(np.where(genre >= 0, genre, n_genres)),
            n_artists + 1,
            n_genres + 1,
        )

    def _step(
        self, model: _Factors, users: torch.Tensor, items: torch.Tensor, valid: torch.Tensor,
        n_pool: int,
    ) -> float:
        """One step on a batch: ``items`` holds each positive, then its draws. The batch's loss."""
        user = model.user.gather(users)
        gathered = [
            (codes[items], table, table.gather(codes[items]), bias, bias.gather(codes[items]))
            for codes, table, bias in model.features.values()
        ]
        vector = sum(rows for _, _, rows, _, _ in gathered)
        score = torch.einsum("bd,bnd->bn", user, vector) + sum(
            rows.squeeze(-1) for _, _, _, _, rows in gathered
        )
        margin = score[:, :1] - score[:, 1:]
        weight = valid.float()
        drawn = weight.sum(1).clamp(min=1.0)
        if self.loss == "bpr":
            ranking = (F.softplus(-margin) * weight).sum(1) / drawn
        else:
            violating = weight * (margin < 1.0).float()
            violations = violating.sum(1)
            rank = torch.floor((n_pool - 1) * violations / drawn)
            hinge = (F.relu(1.0 - margin) * violating).sum(1) / violations.clamp(min=1.0)
            ranking = torch.log1p(rank) * hinge
        penalty = user.pow(2).sum(1) + sum(
            rows.pow(2).sum(-1).mean(1) for _, _, rows, _, _ in gathered
        )
        loss = (ranking + self.l2 * penalty).mean()
        loss.backward()
        model.user.update(users, user, self.lr)
        for codes, table, rows, bias, bias_rows in gathered:
            table.update(codes, rows, self.lr)
            bias.update(codes, bias_rows, self.lr)
        return float(ranking.detach().mean())

    @staticmethod
    def _forget_unlogged(model: _Factors, pool: np.ndarray, n_tracks: int) -> None:
        """Zero the artists and genres no logged track has; cold tracks get the mean id bias."""
        logged = np.zeros(n_tracks, dtype=bool)
        logged[pool] = True
        for name in ("artist", "genre"):
            codes, table, bias = model.features[name]
            seen = np.bincount(codes.numpy()[logged], minlength=len(table.weight)) > 0
            table.weight[~seen] = 0.0
            bias.weight[~seen] = 0.0
        id_bias = model.features["id"][2].weight
        id_bias[~logged] = id_bias[logged].mean()

    def _fitted(self) -> tuple[IdIndex, IdIndex, np.ndarray, np.ndarray, np.ndarray]:
        if (self.users is None or self.tracks is None or self.user_factors is None
                or self.track_factors is None or self.track_biases is None):
            raise RuntimeError("call fit() first")
        return self.users, self.tracks, self.user_factors, self.track_factors, self.track_biases

    def scores(self, user_ids: np.ndarray, track_ids: np.ndarray) -> np.ndarray:
        """Scores of the pairs ``(user_ids[i], track_ids[i])``; NaN for unknown ids."""
        users, tracks, user_factors, track_factors, biases = self._fitted()
        u, t = users.lookup(user_ids), tracks.lookup(track_ids)
        known = (u >= 0) & (t >= 0)
        out = np.full(len(u), np.nan, dtype=np.float64)
        out[known] = (np.einsum("ij,ij->i", user_factors[u[known]], track_factors[t[known]])
                      + biases[t[known]])
        return out

    def user_lists(self, k: int | None = None) -> RecommendationLists:
        """Every user's top ``k`` tracks not heard (the ``hybrid_mf`` artifact); a user who heard
        every track has none."""
        users, tracks, user_factors, track_factors, biases = self._fitted()
        items, bias, heard = torch.from_numpy(track_factors), torch.from_numpy(biases), self.heard
        return self._top(
            users.ids, min(self.k if k is None else k, len(tracks)),
            lambda rows: torch.from_numpy(user_factors[rows]) @ items.T + bias,
            lambda rows: heard[rows].nonzero(), PER_USER,
        )

    def track_lists(self, k: int | None = None) -> RecommendationLists:
        """Every track's ``k`` nearest tracks by cosine (the ``hybrid_mf_i2i`` artifact)."""
        _, tracks, _, track_factors, _ = self._fitted()
        norms = np.linalg.norm(track_factors, axis=1, keepdims=True)
        unit = torch.from_numpy(track_factors / np.maximum(norms, 1e-12))
        return self._top(
            tracks.ids, min(self.track_k if k is None else k, len(tracks) - 1),
            lambda rows: unit[rows] @ unit.T,
            lambda rows: (np.arange(len(rows)), rows), PER_TRACK,
        )

    def embeddings(self) -> ItemEmbeddings:
        """The tracks' representations (the ``hybrid_mf_embeddings`` artifact)."""
        _, tracks, _, track_factors, _ = self._fitted()
        return ItemEmbeddings.of(tracks.ids, track_factors.astype(np.float32))

    def _top(self, key_ids, k, score, excluded, kind) -> RecommendationLists:
        """Each key's top ``k`` tracks by ``score(rows)`` (a chunk of keys' rows of scores over
        every track), without the cells ``excluded(rows)`` (chunk row, track) names."""
        assert self.tracks is not None
        keys: list[int] = []
        items: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, len(key_ids), self.chunk):
                rows = np.arange(start, min(start + self.chunk, len(key_ids)))
                scores = score(rows)
                r, c = excluded(rows)
                scores[torch.from_numpy(np.asarray(r)), torch.from_numpy(np.asarray(c))] = -np.inf
                values, index = torch.topk(scores, k, dim=1)
                for row, row_values, row_index in zip(
                    rows.tolist(), values.numpy(), index.numpy(), strict=True
                ):
                    listed = row_index[np.isfinite(row_values)]
                    if len(listed):
                        keys.append(row)
                        items.append(self.tracks.ids[listed])
        return RecommendationLists(kind=kind, keys=key_ids[keys], items=items)

    def save(self, path: str | os.PathLike) -> None:
        """Save the learned arrays to ``.npz`` (:meth:`load` reads them back)."""
        users, tracks, user_factors, track_factors, biases = self._fitted()
        assert self.heard is not None
        heard = self.heard.tocoo()
        np.savez(path, users=users.ids, tracks=tracks.ids, user_factors=user_factors,
                 track_factors=track_factors, track_biases=biases, heard_user=heard.row,
                 heard_track=heard.col, k=np.array(self.k), track_k=np.array(self.track_k))

    @classmethod
    def load(cls, path: str | os.PathLike) -> HybridMF:
        """Load a factorization saved by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            mf = cls(dim=data["user_factors"].shape[1], k=int(data["k"]),
                     track_k=int(data["track_k"]))
            mf.users, mf.tracks = IdIndex(data["users"]), IdIndex(data["tracks"])
            mf.user_factors = data["user_factors"]
            mf.track_factors, mf.track_biases = data["track_factors"], data["track_biases"]
            shape = (len(mf.users), len(mf.tracks))
            row, col = data["heard_user"], data["heard_track"]
            mf.heard = sp.csr_matrix((np.ones(len(row), dtype=np.int8), (row, col)), shape=shape)
        return mf
