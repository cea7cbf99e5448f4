"""The deployed pipeline as an entry of ``kryptonite evaluate``: a ranker and a candidate
source (``models.evaluation.scorers``) fitted on a split's training rows.

Every production model the blend needs is fitted on the split's rows, then each user's
answer comes from :class:`ServedPipeline`: the gateway's orchestration over the three
services in-process, with the deployed settings.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kryptonite.config import Settings
from kryptonite.gateway.schemas import Strategy
from kryptonite.models.data import TrainData
from kryptonite.models.evaluation.scorers import history_movie_ids, lists_to_indices
from kryptonite.serving.config import ServedConfig
from kryptonite.serving.offline import ServedPipeline, ServedRows, UserState
from kryptonite.serving.stage1 import STAGE1_TYPES


class ServedRanker:
    """``rank`` = the served blend's order; ``candidates`` = stage one's candidate set."""

    def __init__(self, train: TrainData, settings: Settings, seed: int = 42) -> None:
        from kryptonite.pipeline.train import production_models

        self.served = ServedConfig.from_settings(settings)
        factories = production_models(seed, self.served)
        models = {name: factories[name]().fit(train) for name in (*STAGE1_TYPES, "ranker")}
        self.pipe = ServedPipeline(models, train.movies, settings)
        self.users, self.items = train.user_map, train.item_map

    def _states(self, users: np.ndarray, history: sp.csr_matrix) -> list[UserState]:
        out = []
        for u, ids in zip(users, history_movie_ids(history, self.items), strict=True):
            user_id = int(self.users.ids[u]) if u >= 0 else 0
            recent = [int(m) for m in ids[::-1][: self.served.history]]
            out.append(UserState(user_id, recent, (), frozenset(int(m) for m in ids)))
        return out

    def rank(self, users: np.ndarray, history: sp.csr_matrix, k: int) -> np.ndarray:
        lists = self.pipe.lists(self._states(users, history), k)
        return lists_to_indices(lists, self.items, k)

    def candidates(self, users: np.ndarray, history: sp.csr_matrix, n: int) -> np.ndarray:
        lists = self.pipe.candidates(self._states(users, history), n)
        return lists_to_indices(lists, self.items, n)


def served_factory(settings: Settings, seed: int = 42):
    """``RankerFactory`` of the deployed pipeline."""
    return lambda train: ServedRanker(train, settings, seed)


#: The rows the persona benchmark reads through the served path.
PERSONA_ROWS = (Strategy.blend, Strategy.content, Strategy.cf, Strategy.item2item, Strategy.ncf)


def served_rows(data: TrainData, settings: Settings, seed: int = 42) -> ServedRows:
    """Every production model fitted on ``data``; each row as the product serves it."""
    from kryptonite.pipeline.train import production_models

    factories = production_models(seed, ServedConfig.from_settings(settings))
    models = {name: factories[name]().fit(data) for name in (*STAGE1_TYPES, "ncf", "ranker")}
    return ServedRows(ServedPipeline(models, data.movies, settings), PERSONA_ROWS)
