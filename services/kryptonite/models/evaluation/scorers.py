"""What ``evaluate`` can measure besides a ``Recommender``: any ranker or candidate source.

A **ranker** is an object with ``rank(users, history, k) -> np.ndarray``:

* ``users``: dense user indices (``TrainData.user_map``; -1 = unknown user), shape (n,);
* ``history``: those users' rows of the *ordered* training matrix
  (``TrainData.ordered_matrix()``: 1 = most recent interaction, 2 = the one before ...),
  CSR, n x n_items, in the shared item index (``TrainData.item_map``);
* returns n x k dense item indices, best first, -1 where it has fewer than k items.
  Items of the history must not be returned (the harness drops any that are, so they
  count as misses).

A **candidate source** has ``candidates(users, history, n) -> np.ndarray`` of the same
shape rules (order does not matter); evaluate reports its recall@N (stage-1 recall).

A ``RankerFactory`` turns the training rows of a split into a ranker, so the deployed
pipeline is fitted on exactly the rows each model sees:
``factory(train: TrainData) -> ranker``. ``ModelRanker`` wraps a fitted ``Recommender``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from kryptonite.models import base
from kryptonite.models.data import IdMap, TrainData


@runtime_checkable
class Ranker(Protocol):
    def rank(self, users: np.ndarray, history: sp.csr_matrix, k: int) -> np.ndarray: ...


@runtime_checkable
class CandidateSource(Protocol):
    def candidates(self, users: np.ndarray, history: sp.csr_matrix, n: int) -> np.ndarray: ...


RankerFactory = Callable[[TrainData], Ranker]


def mask_history(scores: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
    """Scores with each row's history items set to -inf (in place on a float64 copy)."""
    scores = np.asarray(scores, dtype=np.float64).copy()
    rows = np.repeat(np.arange(history.shape[0]), np.diff(history.indptr))
    scores[rows, history.indices] = -np.inf
    return scores


def top_unseen(scores: np.ndarray, history: sp.csr_matrix, k: int) -> np.ndarray:
    """Top-k item indices per row outside the history; -1 where no finite score is left."""
    scores = mask_history(scores, history)
    top = base.top_n(scores, k)
    return np.where(np.isfinite(np.take_along_axis(scores, top, axis=1)), top, -1)


def clean_lists(top: np.ndarray, history: sp.csr_matrix, k: int) -> np.ndarray:
    """A ranker's output as n x k int64, history items and repeats replaced by -1."""
    top = np.asarray(top, dtype=np.int64)
    if top.ndim != 2 or top.shape[0] != history.shape[0]:
        raise ValueError(f"ranker returned shape {top.shape}, expected ({history.shape[0]}, k)")
    out = np.full((top.shape[0], k), -1, np.int64)
    width = min(k, top.shape[1])
    for row in range(top.shape[0]):
        seen = history.indices[history.indptr[row] : history.indptr[row + 1]]
        items = top[row, : top.shape[1]]
        items = items[(items >= 0) & (items < history.shape[1]) & ~np.isin(items, seen)]
        _, first = np.unique(items, return_index=True)
        items = items[np.sort(first)][:width]
        out[row, : len(items)] = items
    return out


class ModelRanker:
    """A fitted ``Recommender`` as a ranker and a candidate source (full scoring)."""

    def __init__(self, model: base.Recommender) -> None:
        self.model = model

    def rank(self, users: np.ndarray, history: sp.csr_matrix, k: int) -> np.ndarray:
        hist = self.model.prepare_history(history)
        return top_unseen(self.model.score(np.asarray(users), hist), history, k)

    def candidates(self, users: np.ndarray, history: sp.csr_matrix, n: int) -> np.ndarray:
        return self.rank(users, history, n)


def model_factory(make: Callable[[], base.Recommender]) -> RankerFactory:
    """A ``RankerFactory`` that fits ``make()`` on the split's train rows."""
    return lambda train: ModelRanker(make().fit(train))


def history_movie_ids(history: sp.csr_matrix, items: IdMap) -> list[np.ndarray]:
    """Each row's external movie ids, oldest first (what ``Recommender.recommend`` and the
    serving path take), from an ordered history (1 = most recent)."""
    out = []
    for row in range(history.shape[0]):
        lo, hi = history.indptr[row], history.indptr[row + 1]
        idx, order = history.indices[lo:hi], history.data[lo:hi]
        out.append(items.id_of(idx[np.argsort(-order, kind="stable")]))
    return out


def lists_to_indices(movie_lists: list[list[int]] | list[np.ndarray], items: IdMap, k: int):
    """Ranked external movie id lists -> n x k dense item indices (-1: unknown or padding)."""
    out = np.full((len(movie_lists), k), -1, np.int64)
    for row, ids in enumerate(movie_lists):
        idx = items.index(np.asarray(list(ids), np.int64)[:k]) if len(ids) else np.empty(0)
        out[row, : len(idx)] = idx
    return out
