"""The two NCF tasks: implicit (BCE on positives vs sampled negatives), explicit (MSE)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def implicit_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, labels, weight=weights)


def explicit_loss(pred: torch.Tensor, ratings: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (weights * (pred - ratings) ** 2).mean()


LOSSES = {"implicit": implicit_loss, "explicit": explicit_loss}
