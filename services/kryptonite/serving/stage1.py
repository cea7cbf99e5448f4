"""Stage one in-process: fit the candidate models on some data and retrieve for a user
with the candidates service's own code (``candidates.retrieval``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from kryptonite.candidates.retrieval import (
    CandidateModels,
    Query,
    build_models,
    quotas_for,
    retrieve,
)
from kryptonite.models.base import Recommender
from kryptonite.models.data import TrainData
from kryptonite.models.ranker.features import FeatureModels, ItemSide
from kryptonite.serving.config import ServedConfig

#: The stage-one model types (artifact names) the candidates service and features read.
STAGE1_TYPES = ("popularity", "content", "item2item", "item_ridge", "mf_implicit")


def feature_models(
    models: Mapping[str, Recommender], side: ItemSide | None = None
) -> FeatureModels:
    """The ranker's feature view of loaded stage-one models (``side`` filled by the ranker)."""
    ridge = models["item_ridge"]
    placeholder = side or ItemSide.build(ridge.items, _no_movies(), models["popularity"])  # type: ignore[arg-type]
    return FeatureModels(
        ridge.items,
        ridge,  # type: ignore[arg-type]
        models["item2item"],  # type: ignore[arg-type]
        models["mf_implicit"],  # type: ignore[arg-type]
        models["content"],  # type: ignore[arg-type]
        placeholder,
    )


def _no_movies():
    import pandas as pd

    return pd.DataFrame(columns=["movie_id", "year", "genres"])


def candidates(
    models: CandidateModels,
    config: ServedConfig,
    user_id: int,
    recent: list[int],
    listed: list[int],
    exclude: list[int],
) -> tuple[np.ndarray, np.ndarray]:
    """(candidate ids, source codes) exactly as the service answers."""
    query = Query(
        user_id=user_id,
        recent=recent,
        listed=listed,
        limit=config.candidates,
        quotas=quotas_for(config.candidates, {}),
        exclude=exclude,
    )
    found = retrieve(models, query)
    ids = np.fromiter((c.movie_id for c in found), np.int64, len(found))
    sources = np.fromiter((c.source for c in found), np.int64, len(found))
    return ids, sources


def stage1_builder(
    factories: Mapping[str, Callable[[], Recommender]], config: ServedConfig
) -> Callable[[TrainData], tuple[FeatureModels, Callable]]:
    """For the ranker's training: fit stage one on the given data, return its feature view
    and a candidate function (history oldest first -> ids, sources, the history the
    ranker sees: the served depth) as served."""

    def build(data: TrainData):
        fitted = {name: factories[name]().fit(data) for name in STAGE1_TYPES}
        bundle = build_models(fitted)
        fm = feature_models(fitted)

        def candidate_fn(user_id: int, history: np.ndarray):
            recent = [int(m) for m in history[::-1][: config.history]]
            ids, sources = candidates(
                bundle, config, user_id, recent, [], [int(m) for m in history]
            )
            return ids, sources, np.asarray(recent[::-1], np.int64)

        return fm, candidate_fn

    return build
