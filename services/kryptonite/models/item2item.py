"""Item-to-item neighbours ("people who liked X also liked"): shrunk asymmetric cosine.

sim(i, j) = |U_i & U_j| / (|U_i|^a |U_j|^(1-a) + shrink), kept for the top-k neighbours
of each item. A user's score for j is the sum of sim(i, j) over their history i, with
optional recency weights (the caller's history values).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kryptonite.models import base
from kryptonite.models.data import TrainData
from kryptonite.models.registry import register

log = logging.getLogger("kryptonite.models.item2item")


@dataclass
class ItemKNNParams(base.Params):
    neighbours: int = 100
    shrink: float = 10.0
    #: Asymmetry: 0.5 is plain cosine; larger favours neighbours that are popular.
    alpha: float = 0.5
    #: Exponent applied to similarities (sharpens the strongest ties).
    power: float = 1.0
    #: Recency half-life of the history, in interactions (0: plain binary history).
    recency_half_life: float = 3.0


def topk_sparse(dense: np.ndarray, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row of a dense matrix."""
    k = min(k, dense.shape[1])
    idx = np.argpartition(-dense, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(dense, idx, axis=1)
    rows = np.repeat(np.arange(dense.shape[0]), k)
    mat = sp.csr_matrix((vals.ravel(), (rows, idx.ravel())), shape=dense.shape, dtype=np.float32)
    mat.eliminate_zeros()
    return mat


@register
class ItemKNN(base.Recommender):
    model_type = "item2item"
    Params = ItemKNNParams
    params: ItemKNNParams

    def _fit(self, data: TrainData) -> None:
        x = data.implicit_matrix()
        self.sim = self._similarity(x)

    def _similarity(self, x: sp.csr_matrix, block: int = 2048) -> sp.csr_matrix:
        p = self.params
        xt = x.T.tocsr().astype(np.float32)
        counts = np.asarray(x.sum(axis=0)).ravel().astype(np.float32)
        parts = []
        for start in range(0, xt.shape[0], block):
            rows = xt[start : start + block]
            co = (rows @ xt.T).toarray()
            denom = (
                counts[start : start + block, None] ** p.alpha * counts[None, :] ** (1 - p.alpha)
                + p.shrink
            )
            sim = np.divide(co, denom, out=np.zeros_like(co), where=denom > 0)
            np.fill_diagonal(sim[:, start : start + block], 0.0)
            if p.power != 1.0:
                sim **= p.power
            parts.append(topk_sparse(sim, p.neighbours))
        # Row i holds i's neighbours j; scoring uses history @ sim.
        return sp.vstack(parts).tocsr()

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.asarray((history @ self.sim).todense(), dtype=np.float32)

    def _item_block(self, rows: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
        """Row i's kept neighbour weights (0 outside its top ``neighbours``)."""
        block = self.sim[rows]
        return (block if cols is None else block[:, cols]).toarray()

    def _arrays(self) -> dict[str, np.ndarray]:
        return base.csr_arrays("sim", self.sim)

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.sim = base.csr_from_arrays("sim", arrays)


@dataclass
class ItemRidgeParams(base.Params):
    #: Ridge strength on the item-item regression.
    l2: float = 100.0
    #: Recency half-life of the history, in interactions (0: plain binary history).
    recency_half_life: float = 3.0
    #: Items with fewer training interactions get no learned weights (speed, noise).
    min_count: int = 2
    #: At most this many items (the most interacted) get weights: the closed form inverts
    #: a dense support x support matrix, O(n^2) memory and O(n^3) time (0: no cap).
    max_items: int = 12_000


def ease_weights(x: sp.spmatrix, l2: float) -> np.ndarray:
    """The EASE closed form (Steck 2019) on user x item ``x``: B = I - P / diag(P) with
    P = (X'X + l2 I)^-1, so diag(B) = 0 (float32, items x items)."""
    gram = (x.T @ x).toarray().astype(np.float32)
    gram[np.diag_indices_from(gram)] += l2
    p = np.linalg.inv(gram)
    b = p / (-np.diag(p))
    b[np.diag_indices_from(b)] = 0.0
    return b.astype(np.float32)


@register
class ItemRidge(base.Recommender):
    """Our sequence-aware item-item model: a ridge item->item regression with a zero
    diagonal (the EASE closed form, restricted to items with support ``min_count``),
    scored from a recency-decayed history so the latest movies weigh most."""

    model_type = "item_ridge"
    Params = ItemRidgeParams
    params: ItemRidgeParams

    def _fit(self, data: TrainData) -> None:
        x = data.implicit_matrix()
        counts = np.asarray(x.sum(axis=0)).ravel()
        support = np.flatnonzero(counts >= self.params.min_count).astype(np.int64)
        cap = self.params.max_items
        if cap and len(support) > cap:
            top = np.argsort(-counts[support], kind="stable")[:cap]
            log.warning(
                "item_ridge: %d items have support >= %d; a dense inverse of that size needs "
                "~%.1f GiB, so weights are learned for the %d most interacted items only "
                "(max_items); the others score 0 here and come from the other models",
                len(support),
                self.params.min_count,
                3 * 4 * len(support) ** 2 / 2**30,
                cap,
            )
            support = np.sort(support[top])
        self.support = support
        self.b = ease_weights(x[:, self.support], self.params.l2)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        out = np.zeros((history.shape[0], self.n_items), np.float32)
        out[:, self.support] = history[:, self.support] @ self.b
        return out

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"b": self.b, "support": self.support}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.b, self.support = arrays["b"], arrays["support"]
