"""Training job: fit every model from frames and publish each as an artifact version."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from tqdm import tqdm

from kryptonite.models.base import Recommender
from kryptonite.models.content import ContentModel
from kryptonite.models.data import TrainData
from kryptonite.models.item2item import ItemKNN, ItemRidge
from kryptonite.models.mf import ExplicitMF, ImplicitMF
from kryptonite.models.ncf.model import NCF
from kryptonite.models.popularity import Popularity
from kryptonite.models.ranker.model import StageTwoRanker
from kryptonite.pipeline.reuse import code_fingerprint, find_reusable
from kryptonite.progress import ticking
from kryptonite.serving.config import ServedConfig
from kryptonite.store.artifacts import ArtifactStore, Manifest


def production_models(
    seed: int = 42, served: ServedConfig | None = None
) -> dict[str, Callable[[], Recommender]]:
    """The served models with hyperparameters chosen on the validation split; the
    stage-two ranker last (it trains on these models' own candidates, retrieved with the
    deployed pipeline settings ``served``)."""
    from kryptonite.serving.stage1 import stage1_builder

    stage1 = stage1_models(seed)
    config = served or ServedConfig()
    return {
        **stage1,
        "ranker": lambda: StageTwoRanker(stage1=stage1_builder(stage1, config), seed=seed),
    }


def stage1_models(seed: int = 42) -> dict[str, Callable[[], Recommender]]:
    """Every model but the ranker."""
    return {
        "popularity": lambda: Popularity(half_life_days=0.0),
        "content": lambda: ContentModel(popularity_weight=0.5, recency_half_life=3.0),
        "item2item": lambda: ItemKNN(alpha=0.7, shrink=10.0, recency_half_life=3.0),
        "item_ridge": lambda: ItemRidge(l2=100.0, recency_half_life=3.0, min_count=2),
        "mf_implicit": lambda: ImplicitMF(alpha=10.0, recency_half_life=3.0, seed=seed),
        "mf_explicit": lambda: ExplicitMF(factors=32, reg=0.2, seed=seed),
        "ncf": lambda: NCF(recency_half_life=3.0, recency_boost=30.0, seed=seed),
    }


def train_data(
    *,
    ratings: pd.DataFrame,
    movies: pd.DataFrame | None = None,
    tags: pd.DataFrame | None = None,
    genome_tags: pd.DataFrame | None = None,
    genome_scores: pd.DataFrame | None = None,
    overviews: pd.DataFrame | None = None,
    user_lists: Mapping[int, list[int]] | None = None,
) -> TrainData:
    """Frames (from files or the database) -> ``TrainData``."""
    empty = pd.DataFrame()
    return TrainData(
        ratings=ratings,
        movies=movies if movies is not None else empty,
        tags=tags if tags is not None else empty,
        genome_tags=genome_tags if genome_tags is not None else empty,
        genome_scores=genome_scores if genome_scores is not None else empty,
        overviews=overviews if overviews is not None else empty,
        user_lists=dict(user_lists or {}),
    )


@dataclass
class Trained:
    name: str
    #: None when the published version was reused instead of retrained.
    model: Recommender | None
    fit_seconds: float
    manifest: Manifest | None
    reused: bool = False


def train_all(
    data: TrainData,
    store: ArtifactStore | None = None,
    *,
    models: Mapping[str, Callable[[], Recommender]] | None = None,
    metrics: Mapping[str, dict[str, Any]] | None = None,
    on_published: Callable[[Manifest], None] | None = None,
    progress: bool = True,
    reuse: bool = False,
) -> list[Trained]:
    """Fit each model on ``data``; publish it to ``store`` when given. With ``reuse``, a
    model whose latest published version has the same data, code and parameters is not
    retrained (see :mod:`kryptonite.pipeline.reuse`)."""
    out = []
    factories = models or production_models()
    fingerprint = data.fingerprint()
    bar = tqdm(factories.items(), desc="train", unit="model", disable=not progress)
    with ticking(bar):
        for name, factory in bar:
            bar.set_postfix_str(name)
            model = factory()
            found = find_reusable(store, model, fingerprint) if reuse and store else None
            if found is not None:
                out.append(Trained(name, None, 0.0, found, reused=True))
                continue
            _show_epochs(model, bar, name)
            start = time.perf_counter()
            model.fit(data)
            seconds = time.perf_counter() - start
            manifest = None
            if store is not None:
                m = {"fit_seconds": round(seconds, 3), **(metrics or {}).get(name, {})}
                manifest = store.publish(
                    model,
                    metrics=m,
                    data_fingerprint=fingerprint,
                    code_fingerprint=code_fingerprint(),
                    on_published=on_published,
                )
            out.append(Trained(name, model, seconds, manifest))
    return out


def _show_epochs(model: Recommender, bar: tqdm, name: str) -> None:
    """Models that train in epochs (NCF) or steps (the ranker) report each one in the bar."""
    if isinstance(model, StageTwoRanker):
        model.progress = lambda text: bar.set_postfix_str(f"{name}: {text}")
    if hasattr(model, "on_epoch"):
        model.on_epoch = lambda e, n, loss: bar.set_postfix_str(
            f"{name} epoch {e}/{n} loss {loss:.3f}"
        )
