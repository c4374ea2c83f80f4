"""SASRec: a self-attentive sequential model of the next track (PyTorch).

Each user's events, in time order across sessions, are one sequence of tracks. A track is its
embedding plus a learned embedding of its position; causal self-attention blocks (pre-LayerNorm
attention and a point-wise feed-forward layer, each with dropout and a residual connection) turn
the sequence into one state per position, and the state after a track scores every candidate next
track by its dot product with the candidate's embedding (the same table as the input, as in Kang
and McAuley, "Self-attentive sequential recommendation"). It is trained on next-track prediction:
the sequences hold the events listened past ``threshold`` and a position's target is the next of
them (with ``skipped_inputs``, the skipped tracks stay in the inputs as context, never targets: on
a planted log that scored the same on the next track and a sixth on the user's lists, and trained
slower). The loss is a sampled softmax: each batch draws ``negatives`` random tracks that every
position's positive competes with.

A long history is cut, from its end, into windows of ``max_len`` targets (each with the event
before it as its first input), so every event is a target once per epoch; the most recent window
is what a user's list is scored after.

Exported as per-track lists (the nearest tracks by cosine of the item embeddings), per-user lists
(the best-scored tracks after the user's last ``max_len`` positives that the user has not heard) and
the item embeddings themselves.

Written here rather than taken from ``rectools``: its release for Python 3.11 (0.19.0) requires
numpy < 2 and pandas < 3, which the project's pins (numpy 2.4, pandas 3.1) exclude.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from botify.events import TIME, TIMESTAMP, TRACK, USER
from botify.store.artifacts import PER_TRACK, PER_USER
from botify.training.artifacts import ItemEmbeddings, RecommendationLists
from botify.training.dataset import POSITIVE_THRESHOLD, IdIndex
from botify.training.reproducibility import TORCH_THREADS, seeded

# Index 0 of the item table is the padding before a short history.
PAD = 0


class _Block(nn.Module):
    """Causal multi-head self-attention and a point-wise feed-forward layer, pre-LayerNorm."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.forward_norm = nn.LayerNorm(dim)
        self.feed_forward = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).chunk(3, dim=-1)
        q, k, v = (t.reshape(batch, length, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        # No dropout of the attention weights: on the CPU it made attention six times slower.
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.drop(self.out(attended.transpose(1, 2).reshape(batch, length, dim)))
        return x + self.drop(self.feed_forward(self.forward_norm(x)))


class _Network(nn.Module):
    def __init__(
        self, n_items: int, max_len: int, dim: int, blocks: int, heads: int, dropout: float
    ) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=PAD, sparse=True)
        self.positions = nn.Embedding(max_len, dim)
        self.scale = float(dim) ** 0.5
        nn.init.normal_(self.items.weight, std=dim**-0.5)
        nn.init.normal_(self.positions.weight, std=dim**-0.5)
        with torch.no_grad():
            self.items.weight[PAD].zero_()
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(dim, heads, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)
        causal = torch.tril(torch.ones(max_len, max_len, dtype=torch.bool))
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """The states ``(batch, length, dim)`` of left-padded sequences ``(batch, length)``."""
        length = sequences.shape[1]
        real = sequences != PAD
        x = self.items(sequences) * self.scale + self.positions.weight[-length:]
        x = self.drop(x) * real.unsqueeze(-1)
        # A position sees the real tracks up to itself; a padding position sees itself only
        # (else its row of the softmax would be empty).
        eye = torch.eye(length, dtype=torch.bool)
        mask = (self.causal[:length, :length] & real.unsqueeze(1)) | eye
        mask = mask.unsqueeze(1)
        for block in self.blocks:
            x = block(x, mask) * real.unsqueeze(-1)
        return self.norm(x)

    def loss(
        self,
        sequences: torch.Tensor,
        where: torch.Tensor,
        positive: torch.Tensor,
        negative: torch.Tensor,
    ) -> torch.Tensor:
        """The sampled softmax of the states at ``where`` over their positive and the negatives."""
        states = self(sequences)[where]
        candidates = self.items(torch.cat([positive, negative]))
        logits = torch.cat(
            [
                (states * candidates[: len(positive)]).sum(-1, keepdim=True),
                states @ candidates[len(positive) :].T,
            ],
            dim=1,
        )
        # A negative that is the position's own positive is no negative.
        logits[:, 1:] = logits[:, 1:].masked_fill(
            negative.unsqueeze(0) == positive.unsqueeze(1), -torch.inf
        )
        return F.cross_entropy(logits, torch.zeros(len(positive), dtype=torch.long))


class SASRec:
    """The sequential model: hyperparameters here, learned weights after :meth:`fit`.

    The defaults fitted 800,000 synthetic events (10,000 users, 50,000 tracks) in 75 s on two idle
    cores (two threads); a machine busy with other work made it many times slower.

    Args:
        dim: size of the item and position embeddings and of the states.
        blocks: self-attention blocks.
        heads: attention heads per block (``dim`` must be a multiple).
        max_len: the longest history a state looks at (the window length).
        dropout: dropout of the embeddings, the attention weights and the layers' outputs.
        negatives: random tracks each batch's positives compete with in the sampled softmax.
        epochs: passes over the windows.
        batch_size: windows per optimizer step.
        lr: Adam's learning rate.
        weight_decay: AdamW's decoupled weight decay.
        threshold: a listen is a positive target when ``time > threshold``.
        skipped_inputs: keep the tracks not listened past ``threshold`` in the input sequences
            (as context, never as targets); if false the sequences hold the positives only.
        track_k: recommendations per track (by cosine of the item embeddings).
        user_k: tracks per user.
        seed: seeds the initialization, the dropout, the shuffling and the negatives.
        threads: PyTorch threads.
        progress: show a progress bar with the loss of each epoch.
    """

    def __init__(
        self,
        dim: int = 64,
        blocks: int = 2,
        heads: int = 2,
        max_len: int = 50,
        dropout: float = 0.2,
        negatives: int = 256,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 0.01,
        weight_decay: float = 0.0,
        threshold: float = POSITIVE_THRESHOLD,
        skipped_inputs: bool = False,
        track_k: int = 100,
        user_k: int = 50,
        seed: int = 0,
        threads: int = TORCH_THREADS,
        progress: bool = True,
    ) -> None:
        positive = {"dim": dim, "blocks": blocks, "heads": heads, "max_len": max_len,
                    "negatives": negatives, "epochs": epochs, "batch_size": batch_size,
                    "track_k": track_k, "user_k": user_k}
        bad = {name: value for name, value in positive.items() if value < 1}
        if bad:
            raise ValueError(", ".join(f"{n} must be at least 1, got {v}" for n, v in bad.items()))
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dim = dim
        self.blocks = blocks
        self.heads = heads
        self.max_len = max_len
        self.dropout = dropout
        self.negatives = negatives
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.threshold = threshold
        self.skipped_inputs = skipped_inputs
        self.track_k = track_k
        self.user_k = user_k
        self.seed = seed
        self.threads = threads
        self.progress = progress
        self.tracks: IdIndex | None = None
        self.users: np.ndarray | None = None
        self.histories: np.ndarray | None = None
        self.heard: list[np.ndarray] = []
        self.network: _Network | None = None
        self.losses: list[float] = []

    def fit(self, events: pd.DataFrame) -> SASRec:
        """Learn from events (any frame with ``user, track, time, timestamp``).

        Raises:
            ValueError: no user has two events (two positives, without ``skipped_inputs``), or
                no event after a user's first is a positive.
        """
        if events.empty:
            raise ValueError("no events")
        rng = seeded(self.seed, self.threads)
        ordered = events.sort_values([USER, TIMESTAMP], kind="stable")
        tracks = IdIndex.of(ordered[TRACK].to_numpy())
        all_users = ordered[USER].to_numpy()
        all_items = tracks.lookup(ordered[TRACK].to_numpy()) + 1
        positive = ordered[TIME].to_numpy() > self.threshold
        users, starts, counts = np.unique(all_users, return_index=True, return_counts=True)
        heard = [np.unique(all_items[s : s + c]) for s, c in zip(starts, counts, strict=True)]
        items = all_items
        if not self.skipped_inputs:
            # Sequences of the positives only; a user without any has an empty one.
            kept = all_users[positive]
            items, positive = all_items[positive], positive[positive]
            starts = np.searchsorted(kept, users, side="left")
            counts = np.searchsorted(kept, users, side="right") - starts
        if counts.max() < 2:
            listened = "" if self.skipped_inputs else f" listened past {self.threshold}"
            raise ValueError(f"no user has two events{listened}: there is no next track to learn")
        inputs, targets = self._windows(items, positive, starts, counts)
        if not (targets != PAD).any():
            raise ValueError(
                f"no event after a user's first is listened past {self.threshold}: "
                "there is no positive next track to learn"
            )
        network = _Network(
            len(tracks), self.max_len, self.dim, self.blocks, self.heads, self.dropout
        )
        self.losses = self._train(network, inputs, targets, len(tracks), rng)
        self.tracks, self.users, self.network = tracks, users, network
        self.histories = self._recent(items, starts, counts)
        self.heard = heard
        return self

    def _windows(
        self, items: np.ndarray, positive: np.ndarray, starts: np.ndarray, counts: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded inputs and targets (PAD where the next event is not a positive)."""
        length = self.max_len
        rows_in: list[np.ndarray] = []
        rows_out: list[np.ndarray] = []
        for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
            for end in range(start + count, start + 1, -length):
                first = max(start, end - length - 1)
                window = items[first:end]
                target = np.where(positive[first + 1 : end], window[1:], PAD)
                rows_in.append(window[:-1])
                rows_out.append(target)
        inputs = np.zeros((len(rows_in), length), dtype=np.int64)
        targets = np.zeros_like(inputs)
        for row, (seq, target) in enumerate(zip(rows_in, rows_out, strict=True)):
            inputs[row, length - len(seq) :] = seq
            targets[row, length - len(target) :] = target
        return torch.from_numpy(inputs), torch.from_numpy(targets)

    def _recent(self, items: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Each user's last ``max_len`` tracks, left-padded."""
        histories = np.zeros((len(starts), self.max_len), dtype=np.int64)
        for row, (start, count) in enumerate(zip(starts.tolist(), counts.tolist(), strict=True)):
            recent = items[max(start, start + count - self.max_len) : start + count]
            histories[row, self.max_len - len(recent) :] = recent
        return histories

    def _train(
        self,
        network: _Network,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        n_items: int,
        rng: np.random.Generator,
    ) -> list[float]:
        # Sparse gradients for the item table: a step updates the tracks of its batch only.
        sparse = torch.optim.SparseAdam([network.items.weight], lr=self.lr)
        others = [p for name, p in network.named_parameters() if name != "items.weight"]
        dense = torch.optim.AdamW(others, lr=self.lr, weight_decay=self.weight_decay)
        losses: list[float] = []
        network.train()
        bar = tqdm(range(self.epochs), desc="sasrec", unit="epoch", disable=not self.progress)
        for _ in bar:
            order = torch.from_numpy(rng.permutation(len(inputs)))
            total, count = 0.0, 0
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                target = targets[batch]
                where = target != PAD
                if not where.any():
                    continue
                positive = target[where]
                negative = torch.from_numpy(rng.integers(1, n_items + 1, self.negatives))
                loss = network.loss(inputs[batch], where, positive, negative)
                sparse.zero_grad(set_to_none=True)
                dense.zero_grad(set_to_none=True)
                loss.backward()
                sparse.step()
                dense.step()
                total += loss.item() * len(positive)
                count += len(positive)
            losses.append(total / max(count, 1))
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        network.eval()
        return losses

    def _fitted(self) -> tuple[IdIndex, _Network]:
        if self.network is None or self.tracks is None:
            raise RuntimeError("call fit() first")
        return self.tracks, self.network

    def item_vectors(self) -> np.ndarray:
        """The item embeddings, one row per track of ``tracks`` (float32)."""
        _, network = self._fitted()
        return network.items.weight.detach()[1:].numpy().astype(np.float32, copy=True)

    def embeddings(self) -> ItemEmbeddings:
        """The item embeddings as an artifact (row = track id)."""
        tracks, _ = self._fitted()
        return ItemEmbeddings.of(tracks.ids, self.item_vectors())

    def similar_tracks(self, k: int | None = None, chunk: int = 512) -> RecommendationLists:
        """Each track's ``k`` nearest tracks by cosine of the item embeddings, itself left out,
        with the cosines as weights."""
        tracks, _ = self._fitted()
        k = min(self.track_k if k is None else k, len(tracks) - 1)
        vectors = torch.from_numpy(self.item_vectors())
        unit = vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)
        items: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, len(tracks), chunk):
                rows = torch.arange(start, min(start + chunk, len(tracks)))
                scores = unit[rows] @ unit.T
                scores[torch.arange(len(rows)), rows] = -torch.inf
                values, index = torch.topk(scores, max(k, 0), dim=1)
                items.extend(tracks.ids[index.numpy()])
                weights.extend(values.numpy().astype(np.float64))
        return RecommendationLists(PER_TRACK, tracks.ids, items, weights)

    def user_lists(self, k: int | None = None, chunk: int = 256) -> RecommendationLists:
        """Each user's ``k`` best-scored next tracks after their last events, unheard ones only
        (a user who heard every track, or without a history to score after, is left out)."""
        tracks, network = self._fitted()
        assert self.users is not None and self.histories is not None
        k = self.user_k if k is None else k
        table = network.items.weight.detach()[1:]
        keys: list[int] = []
        items: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, len(self.users), chunk):
                histories = torch.from_numpy(self.histories[start : start + chunk])
                scores = network(histories)[:, -1] @ table.T
                for offset, heard in enumerate(self.heard[start : start + chunk]):
                    scores[offset, torch.from_numpy(heard - 1)] = -torch.inf
                values, index = torch.topk(scores, min(k, len(tracks)), dim=1)
                for row, (row_values, row_index) in enumerate(
                    zip(values.numpy(), index.numpy(), strict=True)
                ):
                    finite = row_index[np.isfinite(row_values)]
                    if len(finite) and self.histories[start + row, -1] != PAD:
                        keys.append(int(self.users[start + row]))
                        items.append(tracks.ids[finite])
        return RecommendationLists(PER_USER, np.array(keys, dtype=np.int64), items)
