"""The one interface every model shares: fit, score/recommend, save, load.

Models are pure computation. ``score`` works on dense indices and takes the users'
history rows (users x items CSR), so item-based models, fold-in and cold start all go
through the same call; user index -1 means "not seen at training time".
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from kryptonite.models.data import IdMap, TrainData, history_matrix

WEIGHTS_FILE = "weights.npz"
PARAMS_FILE = "params.json"


@dataclass
class Params:
    """Hyperparameters of a model; subclasses add fields with defaults."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Recommender(ABC):
    """Base class: subclasses set ``model_type``, ``Params`` and implement the hooks."""

    model_type: ClassVar[str]
    Params: ClassVar[type[Params]] = Params
    #: True for models that use no per-user signal (the baseline every other must beat).
    personalized: ClassVar[bool] = True

    def __init__(self, params: Params | None = None, **overrides: Any) -> None:
        base = params.to_dict() if params is not None else {}
        self.params = self.Params.from_dict({**base, **overrides})
        self.users = IdMap(np.empty(0, np.int64))
        self.items = IdMap(np.empty(0, np.int64))

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def _fit(self, data: TrainData) -> None: ...

    @abstractmethod
    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Scores (len(users) x n_items) for user indices (-1: unknown) and history rows."""

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None: ...

    # ----------------------------------------------------------------- API
    def fit(self, data: TrainData) -> Self:
        self.users, self.items = data.user_map, data.item_map
        self._fit(data)
        return self

    @property
    def n_items(self) -> int:
        return len(self.items)

    def prepare_history(self, ordered: sp.csr_matrix) -> sp.csr_matrix:
        """Turn an *ordered* history (values: 1 = most recent, 2 = the one before, ...)
        into the weights ``score`` expects: binary, or recency-decayed when the model has
        a ``recency_half_life`` (in interactions) parameter > 0."""
        out = ordered.copy().astype(np.float32)
        half_life = float(getattr(self.params, "recency_half_life", 0.0) or 0.0)
        if half_life > 0:
            out.data = (0.5 ** ((out.data - 1.0) / half_life)).astype(np.float32)
        else:
            out.data[:] = 1.0
        return out

    def history(
        self, movie_ids: list[int] | np.ndarray, weights: list[float] | None = None
    ) -> sp.csr_matrix:
        """A one-row, prepared history from external movie ids, oldest first.

        Explicit ``weights`` (e.g. ratings or list membership) override the model's own.
        """
        ids = np.asarray(list(movie_ids), dtype=np.int64)
        if weights is not None:
            return history_matrix([ids], self.items, [weights])
        recency = np.arange(len(ids), 0, -1, dtype=np.float32)  # last id = 1 (most recent)
        return self.prepare_history(history_matrix([ids], self.items, [recency]))

    def recommend(
        self,
        user_id: int | None,
        history_ids: list[int] | np.ndarray = (),
        n: int = 10,
        *,
        weights: list[float] | None = None,
        exclude: list[int] | np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Top-``n`` (movie_id, score) for a user (known or not) with the given history.

        Items of the history and ``exclude`` are never returned.
        """
        hist = self.history(history_ids, weights)
        uidx = self.users.index([user_id])[0] if user_id is not None else -1
        scores = self.score(np.array([uidx]), hist)[0].astype(np.float64)
        scores[hist.indices] = -np.inf
        if exclude is not None and len(exclude):
            idx = self.items.index(exclude)
            scores[idx[idx >= 0]] = -np.inf
        top = top_n(scores[None, :], n)[0]
        top = top[np.isfinite(scores[top])]
        return [(int(self.items.ids[i]), float(scores[i])) for i in top]

    def score_items(
        self, user_id: int | None, movie_ids: list[int] | np.ndarray, history_ids=()
    ) -> np.ndarray:
        """Scores of given movies (NaN for unknown movies), vectorized."""
        uidx = self.users.index([user_id])[0] if user_id is not None else -1
        scores = self.score(np.array([uidx]), self.history(history_ids))[0]  # type: ignore[arg-type]
        idx = self.items.index(movie_ids)
        return np.where(idx >= 0, scores[idx.clip(0)], np.nan)

    def item_similarity(
        self, movie_ids: list[int] | np.ndarray, other_ids: list[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """How alike movies are as this model relates them: len(movie_ids) x
        len(other_ids) (``other_ids`` None: every item, in ``items`` order), 0 where either
        id is unknown. Models without an item-item relation raise ``NotImplementedError``."""
        rows = self.items.index(np.asarray(list(movie_ids), np.int64))
        cols = None
        if other_ids is not None:
            cols = self.items.index(np.asarray(list(other_ids), np.int64))
        block = np.asarray(
            self._item_block(rows.clip(0), None if cols is None else cols.clip(0)), np.float32
        )
        block[rows < 0, :] = 0.0
        if cols is not None:
            block[:, cols < 0] = 0.0
        return block

    def similar_items(
        self, movie_ids: list[int] | np.ndarray, n: int = 10
    ) -> list[tuple[int, float]]:
        """(movie_id, similarity) of the ``n`` movies most like ``movie_ids`` by
        :meth:`item_similarity`, summed over them (unknown ids ignored), best first; the
        given movies are never returned."""
        idx = self.items.index(np.asarray(list(movie_ids), np.int64))
        idx = idx[idx >= 0]
        if len(idx) == 0:
            return []
        sims = self.item_similarity(self.items.ids[idx]).sum(axis=0).astype(np.float64)
        sims[idx] = -np.inf
        top = top_n(sims[None, :], n)[0]
        return [(int(self.items.ids[i]), float(sims[i])) for i in top if np.isfinite(sims[i])]

    def _item_block(self, rows: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
        """Item-item similarity of item indices ``rows`` x ``cols`` (dense; ``cols``
        None: every item, in index order)."""
        raise NotImplementedError(f"{self.model_type} has no item-item similarity")

    def item_vectors(self) -> np.ndarray:
        """One embedding per item (rows in ``items`` order), for ANN retrieval and
        diversity; models without item embeddings raise ``NotImplementedError``."""
        raise NotImplementedError(f"{self.model_type} has no item vectors")

    def user_vector(self, user_id: int | None, history_ids=()) -> np.ndarray | None:
        """A user's embedding in the space of ``item_vectors``: the trained one of a known
        user, else one inferred from ``history_ids`` (oldest first); None without either."""
        raise NotImplementedError(f"{self.model_type} has no user vectors")

    def rank_items(
        self, user_id: int | None, movie_ids: list[int] | np.ndarray, history_ids=()
    ) -> np.ndarray | None:
        """Scores of the given movies for ranking them (NaN for unknown movies); None
        when the model knows nothing of the user: unknown and no known history."""
        known_user = user_id is not None and self.users.index([user_id])[0] >= 0
        if not known_user and self.history(history_ids).nnz == 0:
            return None
        return self.score_items(user_id, movie_ids, history_ids)

    # ----------------------------------------------------------------- persistence
    def save(self, path: Path) -> None:
        """Write params.json + weights.npz (plain arrays, no pickle) into ``path``."""
        path.mkdir(parents=True, exist_ok=True)
        (path / PARAMS_FILE).write_text(
            json.dumps({"model_type": self.model_type, "params": self.params.to_dict()}, indent=2)
        )
        arrays = {"_users": self.users.ids, "_items": self.items.ids, **self._arrays()}
        np.savez_compressed(path / WEIGHTS_FILE, **arrays)

    @classmethod
    def load(cls, path: Path) -> Self:
        meta = json.loads((path / PARAMS_FILE).read_text())
        model = cls(cls.Params.from_dict(meta["params"]))
        with np.load(path / WEIGHTS_FILE, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        model.users = IdMap(arrays.pop("_users"))
        model.items = IdMap(arrays.pop("_items"))
        model._load_arrays(arrays)
        return model


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest scores per row, best first (ties: lower index)."""
    n = min(n, scores.shape[1])
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def csr_arrays(prefix: str, mat: sp.csr_matrix) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays for npz."""
    mat = mat.tocsr()
    return {
        f"{prefix}_data": mat.data,
        f"{prefix}_indices": mat.indices,
        f"{prefix}_indptr": mat.indptr,
        f"{prefix}_shape": np.asarray(mat.shape, np.int64),
    }


def csr_from_arrays(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
        shape=tuple(arrays[f"{prefix}_shape"]),
    )
