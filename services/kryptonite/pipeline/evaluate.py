"""Evaluation job: tune on validation, refit on train+validation, report on test.

Every model (ours and the external baselines) goes through the same split, the same
candidate grid search on the validation interaction and the same protocols.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from kryptonite.models.base import Recommender
from kryptonite.models.data import IdMap, TrainData
from kryptonite.models.evaluation import protocols, report, splits
from kryptonite.models.evaluation.baselines import EASE, ImplicitALS, ImplicitBM25
from kryptonite.models.mf import BiasBaseline
from kryptonite.models.ncf.model import NCF
from kryptonite.models.popularity import Popularity
from kryptonite.pipeline.train import production_models

Factory = Callable[[], Recommender]


def candidate_grids(seed: int = 42, quick: bool = False) -> dict[str, list[Factory]]:
    """Per model, the configurations tried on validation (first = production default)."""
    prod = production_models(seed)
    grids: dict[str, list[Factory]] = {name: [f] for name, f in prod.items()}
    grids.pop("mf_explicit")  # rating model: evaluated by RMSE/MAE below
    grids["baseline_als"] = [
        lambda f=f, r=r, a=a: ImplicitALS(factors=f, regularization=r, alpha=a, seed=seed)
        for f in (64, 128)
        for r in (0.05, 0.5)
        for a in (1.0, 10.0)
    ]
    grids["baseline_bm25"] = [lambda k=k: ImplicitBM25(neighbours=k) for k in (50, 100, 200)]
    grids["ncf"] += [
        lambda: NCF(recency_half_life=3.0, recency_boost=10.0, seed=seed),
        lambda: NCF(seed=seed),  # the paper's setting: no recency weights
    ]
    grids["ease"] = [lambda: EASE(l2=100.0)]  # l2 in {100, 300, 1000} tried: docs/models.md
    if not quick:
        grids["popularity"] += [lambda h=h: Popularity(half_life_days=h) for h in (180.0, 1000.0)]
    return grids


def _fit(factory: Factory, data: TrainData) -> tuple[Recommender, float]:
    start = time.perf_counter()
    model = factory().fit(data)
    return model, time.perf_counter() - start


def evaluate(
    data: TrainData,
    *,
    dataset: str,
    out: Path | None = None,
    seed: int = 42,
    grids: dict[str, list[Factory]] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every protocol; write metrics.json/metrics.md/PNGs into ``out`` when given."""
    ratings = data.ratings
    split = splits.leave_last_out(ratings)
    users = IdMap.from_ids(ratings["user_id"].to_numpy())
    items = data.item_map

    def subset(frame) -> TrainData:
        return TrainData(
            frame,
            movies=data.movies,
            tags=data.tags,
            genome_tags=data.genome_tags,
            genome_scores=data.genome_scores,
            overviews=data.overviews,
            users=users,
            items=items,
        )

    train, train_val = subset(split.train), subset(split.train_val)
    hist_val, hist_test = train.ordered_matrix(), train_val.ordered_matrix()
    grids = grids or candidate_grids(seed)
    result: dict[str, Any] = {
        "dataset": dataset,
        "protocol": "temporal leave-last-out, full ranking over all unseen items",
        "models": {},
        "validation": {},
        "sampled": {},
        "selected_params": {},
    }
    bar = tqdm(grids.items(), desc="evaluate", unit="model", disable=not progress)
    for name, candidates in bar:
        bar.set_postfix_str(name)
        best, best_score = candidates[0], -1.0
        for factory in candidates:
            model, _ = _fit(factory, train)
            val = protocols.full_ranking(model, hist_val, split.validation)
            if val["ndcg@10"] > best_score:
                best, best_score, best_val = factory, val["ndcg@10"], val
        model, seconds = _fit(best, train_val)
        test = protocols.full_ranking(model, hist_test, split.test)
        result["models"][name] = {**test, "fit_seconds": round(seconds, 3)}
        result["validation"][name] = best_val
        result["selected_params"][name] = model.params.to_dict()
        result["sampled"][name] = protocols.sampled_ranking(model, hist_test, split.test, seed=seed)
    result["rating_protocol"] = "seeded random 80/20 split of ratings"
    tr, te = splits.random_split(ratings, 0.2, seed)
    rating_models: dict[str, Factory] = {
        "bias_baseline": lambda: BiasBaseline(reg=5.0),
        "mf_explicit": production_models(seed)["mf_explicit"],
        "ncf_explicit": lambda: NCF(task="explicit", kind="neumf", epochs=8, seed=seed),
    }
    for name, factory in rating_models.items():
        model, seconds = _fit(factory, TrainData(tr, users=users, items=items))
        errors = protocols.rating_error(model, te)
        row = result["models"].setdefault(name, {})
        row.update({**errors, "fit_seconds": round(seconds, 3)})
    if out is not None:
        report.write_report(result, out)
    return result
