"""Pure metric functions. Ranks are 0-based positions of the held-out item."""

from __future__ import annotations

import numpy as np


def rank_of_targets(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each row's target among that row's finite scores.

    Ties count against the target (pessimistic), so a constant scorer gets no credit.
    """
    target_scores = scores[np.arange(len(scores)), targets]
    better = (scores > target_scores[:, None]).sum(axis=1)
    ties = (scores == target_scores[:, None]).sum(axis=1) - 1
    rank = better + ties
    return np.where(np.isfinite(target_scores), rank, scores.shape[1]).astype(np.int64)


def hit_rate(ranks: np.ndarray, k: int) -> float:
    return float(np.mean(ranks < k)) if len(ranks) else 0.0


def ndcg(ranks: np.ndarray, k: int) -> float:
    """NDCG@k for one relevant item per user: 1/log2(rank+2) inside the cut-off."""
    if not len(ranks):
        return 0.0
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(np.mean(gains))


def recall(ranks: np.ndarray, k: int) -> float:
    """Recall@k with one held-out item per user (equals HR@k)."""
    return hit_rate(ranks, k)


def mrr(ranks: np.ndarray, k: int) -> float:
    if not len(ranks):
        return 0.0
    return float(np.mean(np.where(ranks < k, 1.0 / (ranks + 1.0), 0.0)))


def coverage(top_items: np.ndarray, n_items: int) -> float:
    """Share of the catalogue appearing in at least one top list."""
    return float(len(np.unique(top_items)) / n_items) if n_items else 0.0


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


def mae(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(truth))))
