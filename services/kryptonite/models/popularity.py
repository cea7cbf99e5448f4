"""Time-decayed popularity: the fallback list and the baseline every model must beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kryptonite.models import base
from kryptonite.models.data import TrainData
from kryptonite.models.registry import register

DAY = 86_400.0


@dataclass
class PopularityParams(base.Params):
    #: Half-life of an interaction's weight in days; 0 = no decay (plain counts).
    half_life_days: float = 0.0
    #: Only ratings at or above this count (0: every interaction).
    min_rating: float = 0.0


@register
class Popularity(base.Recommender):
    """score(item) = sum over its interactions of 0.5 ** (age / half_life)."""

    model_type = "popularity"
    Params = PopularityParams
    personalized = False
    params: PopularityParams

    def _fit(self, data: TrainData) -> None:
        frame = data.ratings
        if self.params.min_rating > 0 and "rating" in frame:
            frame = frame[frame["rating"] >= self.params.min_rating]
        weights = np.ones(len(frame))
        if self.params.half_life_days > 0 and len(frame):
            ts = frame["timestamp"].to_numpy(dtype=np.float64)
            weights = 0.5 ** ((ts.max() - ts) / (self.params.half_life_days * DAY))
        idx = self.items.index(frame["movie_id"].to_numpy())
        ok = idx >= 0
        self.item_scores = np.bincount(idx[ok], weights[ok], minlength=self.n_items).astype(
            np.float32
        )

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(users), self.n_items)).copy()

    def top(self, n: int = 100) -> list[tuple[int, float]]:
        """The ``n`` most popular movies, (movie_id, score)."""
        return self.recommend(None, (), n)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"item_scores": self.item_scores}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_scores = arrays["item_scores"]
