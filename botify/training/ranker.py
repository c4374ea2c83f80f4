"""A contextual ranker in PyTorch: embeddings of the previous and the next track predict ``time``.

Each track has two embeddings, one as the context (the previous track) and one as the candidate
(the next track). The predicted time of ``prev -> next`` is their dot product (``variant="dot"``)
or their cosine (``variant="cosine"``), trained with the squared error against the time listened
(seed 002 and the course's week-4 seminar). Exported as the top-k next tracks per track, with the
predicted times as weights (for the hybrid recommender, seed 004).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from botify.events import TIME
from botify.training.artifacts import PER_TRACK, RecommendationLists
from botify.training.dataset import NEXT, PREV, IdIndex
from botify.training.names import RANKER_VARIANTS
from botify.training.reproducibility import TORCH_THREADS, seeded

VARIANTS = RANKER_VARIANTS


class _PairModel(nn.Module):
    def __init__(self, n_tracks: int, dim: int, variant: str) -> None:
        super().__init__()
        self.variant = variant
        # Sparse gradients: a step updates the rows of its batch only, not the whole tables.
        self.context = nn.Embedding(n_tracks, dim, sparse=True)
        self.candidate = nn.Embedding(n_tracks, dim, sparse=True)
        # Small weights: the initial dot products start near 0 instead of ~N(0, dim).
        nn.init.normal_(self.context.weight, std=0.1)
        nn.init.normal_(self.candidate.weight, std=0.1)

    def forward(self, prev: torch.Tensor, nxt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        context, candidate = self.context(prev), self.candidate(nxt)
        if self.variant == "cosine":
            predicted = F.cosine_similarity(context, candidate, dim=1)
        else:
            predicted = (context * candidate).sum(dim=1)
        penalty = (context.pow(2).sum(dim=1) + candidate.pow(2).sum(dim=1)).mean()
        return predicted, penalty


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
            cosine variant cannot tell from a learned one (its norm is divided out).
        seed: seeds the initialization and the shuffling.
        threads: PyTorch threads.
        progress: show a progress bar with the loss of each epoch.
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
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
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
        self.tracks: IdIndex | None = None
        self.context_embeddings: np.ndarray | None = None
        self.candidate_embeddings: np.ndarray | None = None
        self.is_context: np.ndarray | None = None
        self.is_candidate: np.ndarray | None = None
        self.losses: list[float] = []

    def fit(self, pairs: pd.DataFrame) -> ContextualRanker:
        """Learn from transitions (the output of ``dataset.transitions``).

        Raises:
            ValueError: there are no transitions.
        """
        if pairs.empty:
            raise ValueError("no transitions to learn from")
        rng = seeded(self.seed, self.threads)
        tracks = IdIndex.of(np.concatenate([pairs[PREV].to_numpy(), pairs[NEXT].to_numpy()]))
        prev = torch.from_numpy(tracks.lookup(pairs[PREV].to_numpy()))
        nxt = torch.from_numpy(tracks.lookup(pairs[NEXT].to_numpy()))
        target = torch.from_numpy(pairs[TIME].to_numpy(dtype=np.float32))
        model = _PairModel(len(tracks), self.dim, self.variant)
        optimizer = torch.optim.SparseAdam(list(model.parameters()), lr=self.lr)
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
                predicted, penalty = model(prev[batch], nxt[batch])
                error = F.mse_loss(predicted, target[batch])
                loss = error + self.l2 * penalty
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += error.item() * len(batch)
            self.losses.append(total / len(order))
            epochs.set_postfix(mse=f"{self.losses[-1]:.4f}")
        self.tracks = tracks
        self.context_embeddings = model.context.weight.detach().numpy().copy()
        self.candidate_embeddings = model.candidate.weight.detach().numpy().copy()
        # Only tracks seen in a role have a trained embedding for it.
        self.is_context = np.zeros(len(tracks), dtype=bool)
        self.is_context[prev.numpy()] = True
        self.is_candidate = np.bincount(nxt.numpy(), minlength=len(tracks)) >= self.min_count
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

        A track never recommends itself (a repeat in a session is listened to for 0).
        """
        tracks, context, candidate = self._fitted()
        k = self.k if k is None else k
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

    def save(self, path: str | os.PathLike) -> None:
        """Save the learned arrays and hyperparameters to ``.npz``."""
        tracks, _, _ = self._fitted()
        np.savez(
            path,
            ids=tracks.ids,
            context=self.context_embeddings,
            candidate=self.candidate_embeddings,
            is_context=self.is_context,
            is_candidate=self.is_candidate,
            variant=np.array(self.variant),
            k=np.array(self.k),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> ContextualRanker:
        """Load a ranker saved by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            ranker = cls(
                dim=data["context"].shape[1], variant=str(data["variant"]), k=int(data["k"])
            )
            ranker.tracks = IdIndex(data["ids"])
            ranker.context_embeddings = data["context"]
            ranker.candidate_embeddings = data["candidate"]
            ranker.is_context = data["is_context"]
            ranker.is_candidate = data["is_candidate"]
        return ranker
