"""The promotion gate: a new model becomes current only if it is not worse than the
current version on the same held-out slice (beyond a tolerance).

The slice: the most recent rating of up to ``users`` users picked by a stable hash of the
user id (so every run holds out the same users' latest interaction). A training run fits
on everything else; both the new model and the current version are ranked on the slice
with the one full-ranking protocol of ``models.evaluation``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from kryptonite.models.base import Recommender
from kryptonite.models.data import TrainData
from kryptonite.models.evaluation.protocols import full_ranking
from kryptonite.store.versions import CURRENT, REJECTED

log = logging.getLogger("kryptonite.pipeline.promotion")

_HASH = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class Holdout:
    """Training data without the slice, and the slice (user_id, movie_id)."""

    train: TrainData
    targets: pd.DataFrame


def holdout(data: TrainData, *, users: int = 2000, seed: int = 42) -> Holdout:
    """Hold out the latest rating of up to ``users`` users with at least 3 ratings."""
    r = data.ratings
    counts = r.groupby("user_id", sort=True).size()
    eligible = counts.index[counts >= 3].to_numpy(np.uint64)
    with np.errstate(over="ignore"):
        order = np.argsort((eligible + np.uint64(seed)) * _HASH, kind="stable")
    chosen = eligible[order[:users]].astype(np.int64)
    mine = r.loc[r["user_id"].isin(chosen), ["user_id", "movie_id", "timestamp"]]
    last = mine.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
    idx = last.groupby("user_id", sort=False).tail(1).index
    targets = r.loc[idx, ["user_id", "movie_id"]].reset_index(drop=True)
    events = data.events
    if len(events):
        key = targets["user_id"] * (1 << 32) + targets["movie_id"]
        ev_key = events["user_id"] * (1 << 32) + events["movie_id"]
        events = events.loc[~np.isin(ev_key.to_numpy(), key.to_numpy())]
    train = replace(
        data,
        ratings=r.drop(index=idx).reset_index(drop=True),
        events=events,
        users=data.user_map,
        items=data.item_map,
    )
    return Holdout(train, targets)


def validate(model: Recommender, slice_: Holdout) -> dict[str, float]:
    """Full-ranking metrics of ``model`` on the slice, given the slice users' history."""
    users = slice_.targets["user_id"].unique()
    data = slice_.train
    ratings = data.ratings[data.ratings["user_id"].isin(users)]
    events = data.events[data.events["user_id"].isin(users)] if len(data.events) else data.events
    wanted = set(users.tolist())
    lists = {u: ms for u, ms in data.user_lists.items() if u in wanted}
    history = TrainData(
        ratings=ratings, events=events, user_lists=lists, users=model.users, items=model.items
    ).ordered_matrix()
    return {k: round(float(v), 6) for k, v in full_ranking(model, history, slice_.targets).items()}


@dataclass(frozen=True)
class Gate:
    """Reject a model whose ``metric`` is below the current one's by more than
    ``tolerance`` (relative: 0.1 allows 10 % worse)."""

    metric: str = "ndcg@10"
    tolerance: float = 0.1

    def decide(
        self, new: dict[str, float], baseline: dict[str, float] | None, baseline_version: str
    ) -> dict[str, Any]:
        """``{"status", "reason", "metric", "baseline"}`` for the manifest's metrics."""
        out: dict[str, Any] = {"metric": self.metric, "tolerance": self.tolerance}
        if baseline is None:
            return {**out, "status": CURRENT, "reason": "first version: nothing to compare with"}
        a, b = new[self.metric], baseline[self.metric]
        floor = b * (1.0 - self.tolerance)
        out["baseline"] = {"version": baseline_version, **baseline}
        verdict = (
            f"{self.metric} {a:.4f} vs current {baseline_version} {b:.4f} "
            f"(floor {floor:.4f}, tolerance {self.tolerance:.0%})"
        )
        if a + 1e-9 >= floor:
            return {**out, "status": CURRENT, "reason": f"promoted: {verdict}"}
        return {**out, "status": REJECTED, "reason": f"rejected: {verdict}"}
