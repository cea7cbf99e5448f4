"""`kryptonite train` under ``torchrun``: one process group for the training job.

``torchrun --nproc-per-node N -m kryptonite train --models ncf`` (or one pod per rank: a
Kubernetes Indexed Job / a Kubeflow PyTorchJob setting the torchrun environment) starts N
ranks; each reads the same training data, NCF trains data-parallel (gloo on CPU, NCCL on
GPU), and only rank 0 validates and publishes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist

log = logging.getLogger("kryptonite.pipeline.distributed")

#: Models whose fit uses the process group (the others would only repeat work per rank).
DISTRIBUTED_MODELS = frozenset({"ncf"})


def launched() -> bool:
    """True inside a ``torchrun`` (torch elastic) worker."""
    return dist.is_available() and dist.is_torchelastic_launched()


@contextmanager
def process_group() -> Iterator[int]:
    """Join the torchrun process group for the block; yields this process's rank."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(dist.get_node_local_rank(fallback_rank=0))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    log.info("rank %d of %d (%s)", rank, size, dist.get_backend())
    try:
        yield rank
    finally:
        dist.destroy_process_group()
