"""Matrix factorization: explicit biased MF (ratings, RMSE) and implicit ALS with fold-in.

* :class:`BiasBaseline`: r = mu + b_u + b_i (regularized), the bar explicit MF must beat.
* :class:`ExplicitMF`: r = mu + b_u + b_i + p_u.q_i, fitted by alternating ridge solves with
  count-scaled (weighted-lambda) regularization.
* :class:`ImplicitMF`: item factors from the ``implicit`` library's ALS (Hu et al. 2008);
  user vectors are folded in from the history at scoring time (closed form, no
  retraining), so a brand-new user is scored exactly like a known one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from kryptonite.models import base
from kryptonite.models.data import TrainData
from kryptonite.models.registry import register


class _RatingModel(base.Recommender):
    """Shared by explicit models: ``predict`` ratings; ``score`` ranks by predicted rating."""

    mu: float
    bu: np.ndarray
    bi: np.ndarray

    def predict(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        """Predicted ratings; unknown users/items fall back to biases and the mean."""
        u, i = self.users.index(user_ids), self.items.index(movie_ids)
        return np.clip(self._predict_idx(u, i), 0.5, 5.0)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        bu = np.where(u >= 0, self.bu[u.clip(0)], 0.0)
        bi = np.where(i >= 0, self.bi[i.clip(0)], 0.0)
        return self.mu + bu + bi

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        out = np.empty((len(users), self.n_items), np.float32)
        items = np.arange(self.n_items)
        for row, u in enumerate(users):
            out[row] = self._predict_idx(np.full(self.n_items, u), items)
        return out


def _bias_fit(
    r: sp.csr_matrix, mu: float, reg: float, iters: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Alternating closed-form user/item biases."""
    rc = r.tocsc()
    n_u, n_i = np.diff(r.indptr), np.diff(rc.indptr)
    bu, bi = np.zeros(r.shape[0]), np.zeros(r.shape[1])
    rows = np.repeat(np.arange(r.shape[0]), n_u)
    for _ in range(iters):
        resid = r.data - mu - bu[rows]
        bi = np.bincount(r.indices, resid, minlength=r.shape[1]) / (reg + n_i)
        resid = r.data - mu - bi[r.indices]
        bu = np.bincount(rows, resid, minlength=r.shape[0]) / (reg + n_u)
    return bu, bi


@dataclass
class BiasParams(base.Params):
    reg: float = 5.0


@register
class BiasBaseline(_RatingModel):
    model_type = "bias_baseline"
    Params = BiasParams
    params: BiasParams

    def _fit(self, data: TrainData) -> None:
        r = data.rating_matrix()
        self.mu = float(r.data.mean())
        self.bu, self.bi = _bias_fit(r, self.mu, self.params.reg)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"mu": np.asarray(self.mu), "bu": self.bu, "bi": self.bi}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.mu, self.bu, self.bi = float(arrays["mu"]), arrays["bu"], arrays["bi"]


@dataclass
class ExplicitMFParams(base.Params):
    factors: int = 16
    reg: float = 0.1  # per-rating (weighted-lambda) factor regularization
    bias_reg: float = 5.0
    iterations: int = 10
    seed: int = 42


def _ridge_rows(
    mat: sp.csr_matrix, fixed: np.ndarray, target: np.ndarray, reg: float
) -> np.ndarray:
    """For each row, ridge-solve target residuals on the fixed side's factors."""
    k = fixed.shape[1]
    out = np.zeros((mat.shape[0], k))
    eye = np.eye(k)
    for row in range(mat.shape[0]):
        lo, hi = mat.indptr[row], mat.indptr[row + 1]
        if hi == lo:
            continue
        f = fixed[mat.indices[lo:hi]]
        out[row] = np.linalg.solve(f.T @ f + reg * (hi - lo) * eye, f.T @ target[lo:hi])
    return out


@register
class ExplicitMF(_RatingModel):
    """Biased MF for rating prediction, alternating least squares."""

    model_type = "mf_explicit"
    Params = ExplicitMFParams
    params: ExplicitMFParams

    def _fit(self, data: TrainData) -> None:
        p = self.params
        r = data.rating_matrix()
        self.mu = float(r.data.mean())
        self.bu, self.bi = _bias_fit(r, self.mu, p.bias_reg)
        rng = np.random.default_rng(p.seed)
        self.p = rng.normal(0, 0.1, (r.shape[0], p.factors))
        self.q = rng.normal(0, 0.1, (r.shape[1], p.factors))
        rt = r.T.tocsr()  # items x users, same ratings
        u_of = np.repeat(np.arange(r.shape[0]), np.diff(r.indptr))
        i_of_t = np.repeat(np.arange(rt.shape[0]), np.diff(rt.indptr))
        for _ in range(p.iterations):
            resid = r.data - self.mu - self.bu[u_of] - self.bi[r.indices]
            self.p = _ridge_rows(r, self.q, resid, p.reg)
            resid_t = rt.data - self.mu - self.bu[rt.indices] - self.bi[i_of_t]
            self.q = _ridge_rows(rt, self.p, resid_t, p.reg)
        self.p, self.q = self.p.astype(np.float32), self.q.astype(np.float32)

    def _predict_idx(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        dot = np.where(
            (u >= 0) & (i >= 0), np.einsum("ij,ij->i", self.p[u.clip(0)], self.q[i.clip(0)]), 0.0
        )
        return super()._predict_idx(u, i) + dot

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        pu = self.p[users.clip(0)] * (users >= 0)[:, None]
        bu = np.where(users >= 0, self.bu[users.clip(0)], 0.0)
        return (self.mu + bu[:, None] + self.bi[None, :] + pu @ self.q.T).astype(np.float32)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"mu": np.asarray(self.mu), "bu": self.bu, "bi": self.bi, "p": self.p, "q": self.q}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.mu, self.bu, self.bi = float(arrays["mu"]), arrays["bu"], arrays["bi"]
        self.p, self.q = arrays["p"], arrays["q"]


@dataclass
class ALSParams(base.Params):
    """Hyperparameters of the ``implicit`` library's ALS (Hu et al. 2008)."""

    factors: int = 64
    regularization: float = 0.05
    alpha: float = 1.0
    iterations: int = 15
    seed: int = 42
    threads: int = 2


def fit_als(matrix: sp.csr_matrix, p: ALSParams) -> AlternatingLeastSquares:
    """The ``implicit`` library's CPU ALS, with BLAS kept single-threaded as it advises."""
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(
            factors=p.factors,
            regularization=p.regularization,
            alpha=p.alpha,
            iterations=p.iterations,
            random_state=p.seed,
            num_threads=p.threads,
            calculate_training_loss=False,
        )
        als.fit(matrix.tocsr(), show_progress=False)
    return als


class ALSFactors(base.Recommender):
    """A model holding ALS user and item factors (fit by :func:`fit_als`, saved as is)."""

    params: ALSParams
    user_factors: np.ndarray
    item_factors: np.ndarray

    def _fit_factors(self, matrix: sp.csr_matrix) -> None:
        als = fit_als(matrix, self.params)
        self.user_factors = np.asarray(als.user_factors, np.float32)
        self.item_factors = np.asarray(als.item_factors, np.float32)

    def item_vectors(self) -> np.ndarray:
        return self.item_factors

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_factors, self.item_factors = arrays["user_factors"], arrays["item_factors"]


@dataclass
class ImplicitMFParams(ALSParams):
    alpha: float = 2.0
    recency_half_life: float = 10.0


@register
class ImplicitMF(ALSFactors):
    """Implicit ALS item factors + closed-form user fold-in from a (recency) history."""

    model_type = "mf_implicit"
    Params = ImplicitMFParams
    params: ImplicitMFParams

    def _fit(self, data: TrainData) -> None:
        self._fit_factors(self.prepare_history(data.ordered_matrix()))

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        """User vectors solving the ALS user step for each history row (Hu et al. eq. 4)."""
        y = self.item_factors.astype(np.float64)
        base_a = self._fold_in_gram(y)
        out = np.zeros((history.shape[0], y.shape[1]), np.float32)
        for row in range(history.shape[0]):
            lo, hi = history.indptr[row], history.indptr[row + 1]
            if hi == lo:
                continue
            yi = y[history.indices[lo:hi]]
            conf = self.params.alpha * history.data[lo:hi]  # c - 1
            a = base_a + (yi.T * conf) @ yi
            out[row] = np.linalg.solve(a, yi.T @ (1.0 + conf))
        return out

    def _fold_in_gram(self, y: np.ndarray) -> np.ndarray:
        """Y^T Y + reg I, computed once per set of item factors (the per-call cost)."""
        cached = getattr(self, "_gram", None)
        if cached is None or cached[0] is not self.item_factors:
            gram = y.T @ y + self.params.regularization * np.eye(y.shape[1])
            cached = (self.item_factors, gram)
            self._gram = cached
        return cached[1]

    def user_vectors(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Fold-in where a history is given, else the trained vector (zeros if unknown)."""
        vec = self.fold_in(history)
        empty = np.diff(history.indptr) == 0
        known = empty & (users >= 0)
        vec[known] = self.user_factors[users[known]]
        return vec

    def user_vector(self, user_id: int | None, history_ids=()) -> np.ndarray | None:
        uidx = int(self.users.index([user_id])[0]) if user_id is not None else -1
        if uidx >= 0:
            return self.user_factors[uidx]
        history = self.history(history_ids)
        return self.fold_in(history)[0] if history.nnz else None

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self.user_vectors(users, history) @ self.item_factors.T
