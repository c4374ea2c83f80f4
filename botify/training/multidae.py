"""MultiDAE: a denoising autoencoder over the implicit user-track matrix.

A user's row of positives (listens with ``time > 0.8``) is L2-normalized, corrupted by dropout, and
squeezed through ``n_tracks -> hidden -> latent -> hidden -> n_tracks`` (tanh); the output is a
multinomial over tracks trained by cross-entropy against the row (Liang et al., "Variational
autoencoders for collaborative filtering", the Mult-DAE). A user's list is the tracks with the
largest logits, in that order. The first layer multiplies the sparse rows directly, so its cost
follows the positives rather than the catalog size.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from botify.events import TRACK, USER
from botify.store.artifacts import PER_USER
from botify.training.artifacts import RecommendationLists
from botify.training.dataset import POSITIVE_THRESHOLD, IdIndex, interaction_matrix, positives
from botify.training.reproducibility import TORCH_THREADS, seeded


class _AutoEncoder(nn.Module):
    def __init__(self, n_items: int, hidden: int, latent: int, dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        self.encoder_weight = nn.Parameter(torch.empty(n_items, hidden))
        self.encoder_bias = nn.Parameter(torch.zeros(hidden))
        nn.init.xavier_uniform_(self.encoder_weight)
        self.to_latent = nn.Linear(hidden, latent)
        self.from_latent = nn.Linear(latent, hidden)
        self.decoder = nn.Linear(hidden, n_items)

    def forward(self, rows: sp.csr_matrix) -> torch.Tensor:
        coo = rows.tocoo()
        values = torch.from_numpy(coo.data.astype(np.float32))
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel()).astype(np.float32)
        values = values / torch.from_numpy(np.maximum(norms, 1e-8))[coo.row]
        if self.training and self.dropout > 0:
            keep = torch.rand(values.shape) >= self.dropout
            values = values * keep / (1.0 - self.dropout)
        indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        x = torch.sparse_coo_tensor(indices, values, rows.shape, check_invariants=False)
        h = torch.tanh(torch.sparse.mm(x, self.encoder_weight) + self.encoder_bias)
        h = torch.tanh(self.to_latent(h))
        h = torch.tanh(self.from_latent(h))
        return self.decoder(h)


class MultiDAE:
    """The autoencoder: hyperparameters here, learned weights after :meth:`fit`.

    Args:
        hidden: size of the hidden layers.
        latent: size of the bottleneck.
        dropout: input dropout, the "denoising".
        epochs: passes over the users.
        batch_size: users per optimizer step.
        lr: Adam's learning rate.
        weight_decay: Adam's L2 penalty.
        k: tracks per user when exported.
        threshold: a listen is a positive when ``time > threshold``.
        exclude_seen: leave a user's own positives out of their list (off: in the simulator users
            come back to the tracks they like, and the Indexed recommender skips repeats itself).
        seed: seeds the initialization, the dropout and the shuffling.
        threads: PyTorch threads.
        progress: show a progress bar with the loss of each epoch.
    """

    def __init__(
        self,
        hidden: int = 300,
        latent: int = 50,
        dropout: float = 0.5,
        epochs: int = 5,
        batch_size: int = 128,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        k: int = 50,
        threshold: float = POSITIVE_THRESHOLD,
        exclude_seen: bool = False,
        seed: int = 0,
        threads: int = TORCH_THREADS,
        progress: bool = True,
    ) -> None:
        self.hidden = hidden
        self.latent = latent
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.k = k
        self.threshold = threshold
        self.exclude_seen = exclude_seen
        self.seed = seed
        self.threads = threads
        self.progress = progress
        self.users: IdIndex | None = None
        self.tracks: IdIndex | None = None
        self.matrix: sp.csr_matrix | None = None
        self.network: _AutoEncoder | None = None
        self.losses: list[float] = []

    def fit(self, events: pd.DataFrame) -> MultiDAE:
        """Learn from events (any frame with ``user, track, time``).

        Every user of the events gets a row; the tracks are those with at least one positive.

        Raises:
            ValueError: no event is a positive.
        """
        rng = seeded(self.seed, self.threads)
        positive = positives(events, self.threshold)
        users = IdIndex.of(events[USER].to_numpy())
        tracks = IdIndex.of(positive[TRACK].to_numpy())
        matrix = interaction_matrix(events, users, tracks, self.threshold)
        matrix.data[:] = 1.0  # a positive is a positive, however often it was repeated
        network = _AutoEncoder(len(tracks), self.hidden, self.latent, self.dropout)
        optimizer = torch.optim.Adam(
            network.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        active = np.flatnonzero(np.diff(matrix.indptr) > 0)  # empty rows carry no loss
        self.losses = []
        bar = tqdm(range(self.epochs), desc="multidae", unit="epoch", disable=not self.progress)
        network.train()
        for _ in bar:
            order = rng.permutation(active)
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                rows = matrix[np.sort(order[start : start + self.batch_size])]
                logits = network(rows)
                coo = rows.tocoo()
                log_probs = F.log_softmax(logits, dim=1)
                picked = log_probs[torch.from_numpy(coo.row), torch.from_numpy(coo.col)]
                loss = -picked.sum() / rows.shape[0]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * rows.shape[0]
            self.losses.append(total / max(len(order), 1))
            bar.set_postfix(loss=f"{self.losses[-1]:.3f}")
        network.eval()
        self.users, self.tracks, self.matrix, self.network = users, tracks, matrix, network
        return self

    def _fitted(self) -> tuple[IdIndex, IdIndex, sp.csr_matrix, _AutoEncoder]:
        if self.network is None or self.users is None or self.tracks is None or self.matrix is None:
            raise RuntimeError("call fit() first")
        return self.users, self.tracks, self.matrix, self.network

    def recommendations(self, k: int | None = None, chunk: int = 1024) -> RecommendationLists:
        """The top-``k`` tracks of every user by descending logit (the ``multidae`` artifact)."""
        users, tracks, matrix, network = self._fitted()
        k = min(self.k if k is None else k, len(tracks))
        items: list[np.ndarray] = []
        with torch.no_grad():
            for start in range(0, len(users), chunk):
                rows = matrix[start : start + chunk]
                logits = network(rows)
                if self.exclude_seen:
                    coo = rows.tocoo()
                    logits[torch.from_numpy(coo.row), torch.from_numpy(coo.col)] = -torch.inf
                values, index = torch.topk(logits, k, dim=1)
                for row_values, row_index in zip(values.numpy(), index.numpy(), strict=True):
                    items.append(tracks.ids[row_index[np.isfinite(row_values)]])
        return RecommendationLists(kind=PER_USER, keys=users.ids, items=items)

    def save(self, path: str | os.PathLike) -> None:
        """Save the ids, the positives and the network's weights to ``.npz``."""
        users, tracks, matrix, network = self._fitted()
        weights = {f"w_{name}": p.detach().numpy() for name, p in network.state_dict().items()}
        np.savez(
            path,
            users=users.ids,
            tracks=tracks.ids,
            indptr=matrix.indptr,
            indices=matrix.indices,
            hidden=np.array(self.hidden),
            latent=np.array(self.latent),
            k=np.array(self.k),
            **weights,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> MultiDAE:
        """Load a model saved by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            model = cls(hidden=int(data["hidden"]), latent=int(data["latent"]), k=int(data["k"]))
            model.users, model.tracks = IdIndex(data["users"]), IdIndex(data["tracks"])
            indptr, indices = data["indptr"], data["indices"]
            model.matrix = sp.csr_matrix(
                (np.ones(len(indices), dtype=np.float32), indices, indptr),
                shape=(len(model.users), len(model.tracks)),
            )
            network = _AutoEncoder(len(model.tracks), model.hidden, model.latent, model.dropout)
            state = {
                name[2:]: torch.from_numpy(data[name]) for name in data.files if name[:2] == "w_"
            }
            network.load_state_dict(state)
            network.eval()
            model.network = network
        return model
