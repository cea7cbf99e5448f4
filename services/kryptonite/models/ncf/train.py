"""Thin training entry: epochs of batches through the module and the task's loss.

Under ``torch.distributed`` (an initialized process group of world size > 1, e.g. started
by ``torchrun``; gloo on CPU, NCCL on GPU) the module is wrapped in
``DistributedDataParallel`` and rank r trains on every r-th batch of each round of
``world`` batches (every rank draws the same seeded batches): one step averages the
gradients of ``world`` batches, as one process with a ``world`` times larger batch would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

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
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def world() -> tuple[int, int]:
    """(rank, world size) of the process group; (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _my_batches(batches: Iterable, rank: int, size: int) -> Iterator:
    """Batch ``rank`` of each complete round of ``size`` (every rank steps equally often)."""
    round_: list = []
    for batch in batches:
        round_.append(batch)
        if len(round_) == size:
            yield round_[rank]
            round_ = []


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
    rank, size = world()
    net: torch.nn.Module = module
    if size > 1:
        net = DistributedDataParallel(
            module, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = loss.LOSSES[task]
    samples, last, start = 0, float("nan"), time.perf_counter()
    for epoch in range(epochs):
        batches = (
            data.implicit_batches(matrix, n_neg, batch_size, rng)
            if task == "implicit"
            else data.explicit_batches(matrix, batch_size, rng)
        )
        if size > 1:
            batches = _my_batches(batches, rank, size)
        total, count = 0.0, 0
        for users, items, targets, weights in batches:
            u = torch.from_numpy(users).to(dev)
            i = torch.from_numpy(items).to(dev)
            y = torch.from_numpy(np.asarray(targets, np.float32) - rating_offset).to(dev)
            opt.zero_grad(set_to_none=True)
            w = torch.from_numpy(weights).to(dev)
            batch_loss = loss_fn(net(u, i), y, w)
            batch_loss.backward()
            opt.step()
            total += batch_loss.item() * len(users)
            count += len(users)
        if size > 1:  # every rank reports the loss and samples of the whole step
            sums = torch.tensor([total, float(count)], dtype=torch.float64, device=dev)
            dist.all_reduce(sums)
            total, count = float(sums[0]), int(sums[1])
        samples += count
        last = total / max(count, 1)
        if on_epoch is not None:
            on_epoch(epoch, last)
    module.eval()
    return TrainStats(epochs, samples, time.perf_counter() - start, last)
