"""External baselines run through the same harness: implicit's ALS and BM25 item-kNN,
and EASE (Steck 2019, closed form). They are saved/loaded like any model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import BM25Recommender

from kryptonite.models import base
from kryptonite.models.data import TrainData
from kryptonite.models.item2item import ease_weights
from kryptonite.models.mf import ALSFactors, ALSParams
from kryptonite.models.registry import register


@dataclass
class EASEParams(base.Params):
    l2: float = 500.0


@register
class EASE(base.Recommender):
    """B = I - P / diag(P), P = (X'X + l2 I)^-1, diag(B) = 0; score = X B."""

    model_type = "ease"
    Params = EASEParams
    params: EASEParams

    def _fit(self, data: TrainData) -> None:
        self.b = ease_weights(data.implicit_matrix(), self.params.l2)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.asarray(history @ self.b, dtype=np.float32)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"b": self.b}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.b = arrays["b"]


@register
class ImplicitALS(ALSFactors):
    """``implicit`` library ALS (Hu et al. 2008) on the binary matrix, as shipped."""

    model_type = "baseline_als"
    Params = ALSParams
    params: ALSParams

    def _fit(self, data: TrainData) -> None:
        self._fit_factors(data.implicit_matrix())

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        u = self.user_factors[np.clip(users, 0, None)]
        u[users < 0] = 0.0
        return u @ self.item_factors.T


@dataclass
class BM25Params(base.Params):
    neighbours: int = 100
    k1: float = 1.2
    b: float = 0.75
    threads: int = 2


@register
class ImplicitBM25(base.Recommender):
    """``implicit`` library item-kNN on BM25-weighted co-occurrence."""

    model_type = "baseline_bm25"
    Params = BM25Params
    params: BM25Params

    def _fit(self, data: TrainData) -> None:
        p = self.params
        knn = BM25Recommender(K=p.neighbours, K1=p.k1, B=p.b, num_threads=p.threads)
        knn.fit(data.implicit_matrix(), show_progress=False)
        self.sim = knn.similarity.tocsr().astype(np.float32)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.asarray((history @ self.sim).todense(), dtype=np.float32)

    def _arrays(self) -> dict[str, np.ndarray]:
        return base.csr_arrays("sim", self.sim)

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.sim = base.csr_from_arrays("sim", arrays)
