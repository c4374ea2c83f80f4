"""Seeding and thread settings shared by the PyTorch models."""

from __future__ import annotations

import numpy as np
import torch

from botify.training.names import TORCH_THREADS


def seeded(seed: int, threads: int = TORCH_THREADS) -> np.random.Generator:
    """Seed PyTorch (``torch.manual_seed``), set its threads, and return a numpy generator.

    Args:
        seed: the seed of the run.
        threads: PyTorch's intra-op threads.

    Returns:
        A ``np.random.Generator`` for everything numpy-side (shuffling, sampling).
    """
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    return np.random.default_rng(seed)
