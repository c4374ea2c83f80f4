"""Seeding and thread settings shared by the PyTorch models."""

from __future__ import annotations

import numpy as np
import torch

# The machines that train have two cores; more threads only contend.
TORCH_THREADS = 2


def seeded(seed: int) -> np.random.Generator:
    """Seed PyTorch (``torch.manual_seed``), cap its threads, and return a numpy generator.

    Args:
        seed: the seed of the run.

    Returns:
        A ``np.random.Generator`` for everything numpy-side (shuffling, sampling).
    """
    torch.manual_seed(seed)
    torch.set_num_threads(TORCH_THREADS)
    return np.random.default_rng(seed)
