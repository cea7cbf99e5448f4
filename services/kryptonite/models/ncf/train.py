"""Thin training entry: epochs of batches through the module and the task's loss."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from kryptonite.models.ncf import data, loss
from kryptonite.models.ncf.module import NeuMF


@dataclass
class TrainStats:
    epochs: int
    samples: int
    seconds: float
    last_loss: float

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(
    module: NeuMF,
    matrix: sp.csr_matrix,
    *,
    task: str,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    n_neg: int,
    seed: int,
    rating_offset: float = 0.0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainStats:
    """Fit ``module`` on ``matrix`` (binary positives, or ratings for the explicit task)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = device()
    module.to(dev).train()
    opt = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = loss.LOSSES[task]
    samples, last, start = 0, float("nan"), time.perf_counter()
    for epoch in range(epochs):
        batches = (
            data.implicit_batches(matrix, n_neg, batch_size, rng)
            if task == "implicit"
            else data.explicit_batches(matrix, batch_size, rng)
        )
        total, count = 0.0, 0
        for users, items, targets, weights in batches:
            u = torch.from_numpy(users).to(dev)
            i = torch.from_numpy(items).to(dev)
            y = torch.from_numpy(np.asarray(targets, np.float32) - rating_offset).to(dev)
            opt.zero_grad(set_to_none=True)
            w = torch.from_numpy(weights).to(dev)
            batch_loss = loss_fn(module(u, i), y, w)
            batch_loss.backward()
            opt.step()
            total += batch_loss.item() * len(users)
            count += len(users)
        samples += count
        last = total / max(count, 1)
        if on_epoch is not None:
            on_epoch(epoch, last)
    module.eval()
    return TrainStats(epochs, samples, time.perf_counter() - start, last)
