"""Training batches: positives plus vectorized uniform negative sampling."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp


def sample_negatives(
    positives: sp.csr_matrix, users: np.ndarray, n_neg: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_neg`` items per entry of ``users`` that the user has not interacted with.

    Draws in bulk and redraws only the collisions (rarely more than two rounds).
    """
    n_items = positives.shape[1]
    users = np.repeat(users, n_neg)
    items = rng.integers(0, n_items, size=len(users))
    keys = positive_keys(positives)
    for _ in range(50):
        hit = is_positive(keys, n_items, users, items)
        if not hit.any():
            break
        items[hit] = rng.integers(0, n_items, size=int(hit.sum()))
    return items


def positive_keys(positives: sp.csr_matrix) -> np.ndarray:
    """Sorted ``user * n_items + item`` keys of every positive (one searchsorted tests all)."""
    pos = positives.tocsr()
    pos.sort_indices()
    rows = np.repeat(np.arange(pos.shape[0], dtype=np.int64), np.diff(pos.indptr))
    return rows * pos.shape[1] + pos.indices


def is_positive(keys: np.ndarray, n_items: int, users: np.ndarray, items: np.ndarray):
    if not len(keys):
        return np.zeros(len(users), bool)
    q = users.astype(np.int64) * n_items + items
    at = np.searchsorted(keys, q).clip(0, len(keys) - 1)
    return keys[at] == q


def implicit_batches(
    positives: sp.csr_matrix,
    n_neg: int,
    batch_size: int,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, ...]]:
    """One epoch of shuffled (users, items, labels, weights) batches, ``n_neg`` negatives
    per positive. The matrix values weight the positives (1 for a binary matrix)."""
    coo = positives.tocoo()
    users = np.concatenate([coo.row, np.repeat(coo.row, n_neg)]).astype(np.int64)
    items = np.concatenate([coo.col, sample_negatives(positives, coo.row, n_neg, rng)])
    labels = np.concatenate([np.ones(coo.nnz), np.zeros(coo.nnz * n_neg)]).astype(np.float32)
    weights = np.concatenate([coo.data, np.ones(coo.nnz * n_neg)]).astype(np.float32)
    order = rng.permutation(len(users))
    for start in range(0, len(order), batch_size):
        sl = order[start : start + batch_size]
        yield users[sl], items[sl].astype(np.int64), labels[sl], weights[sl]


def explicit_batches(
    ratings: sp.csr_matrix, batch_size: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, ...]]:
    """One epoch of shuffled (users, items, ratings, weights=1) batches."""
    coo = ratings.tocoo()
    order = rng.permutation(coo.nnz)
    ones = np.ones(batch_size, np.float32)
    for start in range(0, len(order), batch_size):
        sl = order[start : start + batch_size]
        yield (
            coo.row[sl].astype(np.int64),
            coo.col[sl].astype(np.int64),
            coo.data[sl],
            ones[: len(sl)],
        )
