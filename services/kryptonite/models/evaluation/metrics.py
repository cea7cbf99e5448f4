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


# --------------------------------------------------------------------------- per user
# The functions below return one value per user (for bootstrap intervals and paired
# tests); ``top`` is users x k item indices, best first, -1 = no item at that position.


def ranks_in_lists(top: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based position of each row's target in its top list; ``top.shape[1]`` if absent.

    ``targets`` of -1 (unknown item) never match.
    """
    hit = (top == targets[:, None]) & (targets[:, None] >= 0)
    found = hit.any(axis=1)
    return np.where(found, hit.argmax(axis=1), top.shape[1]).astype(np.int64)


def per_user_rank_metrics(ranks: np.ndarray, k: int = 10, k_recall: int = 20):
    """Per-user HR@k, NDCG@k, Recall@k_recall, MRR@k for one held-out item per user."""
    r = np.asarray(ranks, dtype=np.float64)
    return {
        f"hr@{k}": (r < k).astype(np.float64),
        f"ndcg@{k}": np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0),
        f"recall@{k_recall}": (r < k_recall).astype(np.float64),
        f"mrr@{k}": np.where(r < k, 1.0 / (r + 1.0), 0.0),
    }


def hits_matrix(top: np.ndarray, relevant) -> np.ndarray:
    """users x k booleans: is ``top[u, j]`` in user u's relevant set (a CSR row)."""
    relevant = relevant.tocsr()
    out = np.zeros(top.shape, dtype=bool)
    for row in range(top.shape[0]):
        rel = relevant.indices[relevant.indptr[row] : relevant.indptr[row + 1]]
        out[row] = np.isin(top[row], rel) & (top[row] >= 0)
    return out


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """Relevant items in the top k, divided by k (MS Recommenders' precision_at_k)."""
    return hits[:, :k].sum(axis=1) / float(k)


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Relevant items in the top k, divided by the user's number of relevant items."""
    return hits[:, :k].sum(axis=1) / np.maximum(n_relevant, 1)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Binary-gain NDCG@k: sum 1/log2(pos+2) over hits / the ideal DCG of min(|rel|, k)."""
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = (hits[:, :k] * discount[: hits[:, :k].shape[1]]).sum(axis=1)
    ideal = np.cumsum(discount)[np.clip(np.minimum(n_relevant, k), 1, k) - 1]
    return np.where(n_relevant > 0, dcg / ideal, 0.0)


def map_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Average precision@k: sum of precision@pos at each hit / min(|rel|, k).

    The denominator min(|rel|, k) is MS Recommenders' ``map_at_k`` (>= 1.2); their older
    ``map`` divides by |rel| and is never larger.
    """
    h = hits[:, :k].astype(np.float64)
    prec = np.cumsum(h, axis=1) / np.arange(1, h.shape[1] + 1)
    return (prec * h).sum(axis=1) / np.maximum(np.minimum(n_relevant, k), 1)
