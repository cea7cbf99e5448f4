"""Training job: fit every model from frames and publish each as an artifact version.

With a promotion gate, each model is fitted without the held-out slice, validated on it
beside the current version, and published either way; the decision travels in the
manifest's metrics to the publish hook (``store.versions.VersionRecorder``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
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
from kryptonite.pipeline.promotion import Gate, Holdout, validate
from kryptonite.pipeline.reuse import code_fingerprint, find_reusable
from kryptonite.progress import ticking
from kryptonite.serving.config import ServedConfig
from kryptonite.store.artifacts import ArtifactError, ArtifactStore, Manifest

log = logging.getLogger("kryptonite.pipeline.train")


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


def small_models(seed: int = 42) -> dict[str, Callable[[], Recommender]]:
    """Tiny variants of the served models (tests, demos on small machines)."""
    from kryptonite.serving.stage1 import stage1_builder

    stage1: dict[str, Callable[[], Recommender]] = {
        "popularity": lambda: Popularity(half_life_days=0.0),
        "content": ContentModel,
        "item2item": lambda: ItemKNN(neighbours=30),
        "item_ridge": lambda: ItemRidge(l2=100.0, min_count=10),
        "mf_implicit": lambda: ImplicitMF(factors=16, iterations=3, alpha=10.0, seed=seed),
    }
    builder = stage1_builder(stage1, ServedConfig())
    return {
        **stage1,
        "ncf": lambda: NCF(factors=8, layers=[16, 8], epochs=1, seed=seed),
        "ranker": lambda: StageTwoRanker(
            stage1=builder, holdout=2, max_users=150, epochs=20, seed=seed
        ),
    }


PROFILES: dict[str, Callable[[int], dict[str, Callable[[], Recommender]]]] = {
    "production": production_models,
    "small": small_models,
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
    events: pd.DataFrame | None = None,
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
        events=events if events is not None else empty,
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
    gate: Gate | None = None,
    slice_: Holdout | None = None,
) -> list[Trained]:
    """Fit each model on ``data``; publish it to ``store`` when given.

    With ``reuse``, a model whose latest published version has the same data, code and
    parameters is not retrained (see :mod:`kryptonite.pipeline.reuse`). With ``gate`` and
    ``slice_`` (a holdout of ``data``), each model is fitted on ``slice_.train`` and its
    promotion decided against the store's current version.
    """
    out = []
    fit_on = slice_.train if gate is not None and slice_ is not None else data
    factories = models or production_models()
    fingerprint = data.fingerprint() if store is not None else ""  # once: O(ratings)
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
            model.fit(fit_on)
            seconds = time.perf_counter() - start
            manifest = None
            if store is not None:
                m = {"fit_seconds": round(seconds, 3), **(metrics or {}).get(name, {})}
                if gate is not None and slice_ is not None:
                    m.update(gated_metrics(model, store, gate, slice_))
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


def gated_metrics(
    model: Recommender, store: ArtifactStore, gate: Gate, slice_: Holdout
) -> dict[str, Any]:
    """``validation`` of the new model and the gate's ``promotion`` decision."""
    new = validate(model, slice_)
    baseline, version = None, store.current(model.model_type)
    if version is not None:
        try:
            with tempfile.TemporaryDirectory(prefix="kryptonite-baseline-") as tmp:
                current, _ = store.load(model.model_type, version, cache_dir=Path(tmp))
            if isinstance(current, StageTwoRanker) and isinstance(model, StageTwoRanker):
                assert model.fm is not None
                # both rankers judged on the same stage-one candidates and features
                current.bind(model.fm, model.candidates_of)
            baseline = validate(current, slice_)
        except (ArtifactError, OSError, ValueError, KeyError) as exc:
            log.warning(
                "current %s@%s unreadable (%s): not compared", model.model_type, version, exc
            )
    decision = gate.decide(new, baseline, version or "")
    log.info("%s: %s", model.model_type, decision["reason"])
    return {"validation": new, "promotion": decision}
