"""Evaluation protocols: full ranking, the NCF paper's sampled ranking, rating error.

Every protocol takes any fitted ``Recommender`` plus the history it may see (the rows it
was trained on) and the held-out targets, so all models are measured by the same code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kryptonite.models import base
from kryptonite.models.data import IdMap
from kryptonite.models.evaluation import metrics

K = 10
K_RECALL = 20


def _targets(targets: pd.DataFrame, users: IdMap, items: IdMap) -> tuple[np.ndarray, np.ndarray]:
    u = users.index(targets["user_id"].to_numpy())
    i = items.index(targets["movie_id"].to_numpy())
    keep = u >= 0  # users unknown to the index cannot be scored; count items as misses
    return u[keep], i[keep]


def full_ranking(
    model: base.Recommender,
    history: sp.csr_matrix,
    targets: pd.DataFrame,
    *,
    batch: int = 512,
) -> dict[str, float]:
    """Rank each target among ALL items the user has not interacted with in ``history``.

    ``history`` is the ordered matrix of the training rows (``TrainData.ordered_matrix``);
    each model turns it into its own weights with ``prepare_history``.
    """
    users, items = _targets(targets, model.users, model.items)
    ranks = np.empty(len(users), np.int64)
    tops = []
    for start in range(0, len(users), batch):
        u, i = users[start : start + batch], items[start : start + batch]
        hist = model.prepare_history(history[u])
        scores = model.score(u, hist).astype(np.float64, copy=True)
        rows = np.repeat(np.arange(len(u)), np.diff(hist.indptr))
        scores[rows, hist.indices] = -np.inf
        known = i >= 0
        r = np.full(len(u), model.n_items, np.int64)
        if known.any():
            r[known] = metrics.rank_of_targets(scores[known], i[known])
        ranks[start : start + batch] = r
        tops.append(base.top_n(scores, K))
    top = np.concatenate(tops) if tops else np.empty((0, K), np.int64)
    return ranking_metrics(ranks, top, model.n_items)


def ranking_metrics(ranks: np.ndarray, top: np.ndarray, n_items: int) -> dict[str, float]:
    return {
        "hr@10": metrics.hit_rate(ranks, K),
        "ndcg@10": metrics.ndcg(ranks, K),
        "recall@20": metrics.recall(ranks, K_RECALL),
        "mrr@10": metrics.mrr(ranks, K),
        "coverage@10": metrics.coverage(top, n_items),
    }


def sampled_ranking(
    model: base.Recommender,
    history: sp.csr_matrix,
    targets: pd.DataFrame,
    *,
    negatives: int = 99,
    seed: int = 42,
) -> dict[str, float]:
    """He et al. 2017: rank the target among ``negatives`` sampled unseen items."""
    users, items = _targets(targets, model.users, model.items)
    keep = items >= 0
    users, items = users[keep], items[keep]
    rng = np.random.default_rng(seed)
    ranks = np.empty(len(users), np.int64)
    all_items = np.arange(model.n_items)
    for start in range(0, len(users), 512):
        u, i = users[start : start + 512], items[start : start + 512]
        scores = model.score(u, model.prepare_history(history[u]))
        for row in range(len(u)):
            seen = np.append(history[u[row]].indices, i[row])
            unseen = np.setdiff1d(all_items, seen, assume_unique=False)
            neg = rng.choice(unseen, size=min(negatives, len(unseen)), replace=False)
            ranks[start + row] = int((scores[row, neg] >= scores[row, i[row]]).sum())
    return {
        "hr@10": metrics.hit_rate(ranks, K),
        "ndcg@10": metrics.ndcg(ranks, K),
        "mrr@10": metrics.mrr(ranks, K),
    }


def rating_error(model: base.Recommender, test: pd.DataFrame) -> dict[str, float]:
    """RMSE/MAE of ``model.predict`` (explicit models) on held-out ratings."""
    pred = model.predict(  # type: ignore[attr-defined]
        test["user_id"].to_numpy(), test["movie_id"].to_numpy()
    )
    truth = test["rating"].to_numpy(dtype=np.float64)
    return {"rmse": metrics.rmse(pred, truth), "mae": metrics.mae(pred, truth)}
