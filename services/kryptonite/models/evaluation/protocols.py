"""Evaluation protocols: leave-last-out full ranking, random per-user holdout, stage-1
candidate recall, the NCF paper's sampled ranking, rating error.

Every ranking protocol takes a fitted ``Recommender`` or any ``Ranker``
(``scorers.py``) plus the history it may see (the rows it was trained on) and the held-out
rows, and returns per-user vectors (``PerUser``) so intervals and paired tests work for
any scorer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kryptonite.models import base
from kryptonite.models.data import IdMap, interaction_matrix
from kryptonite.models.evaluation import metrics
from kryptonite.models.evaluation.scorers import CandidateSource, Ranker, clean_lists, mask_history

K = 10
K_RECALL = 20


def _targets(targets: pd.DataFrame, users: IdMap, items: IdMap) -> tuple[np.ndarray, np.ndarray]:
    u = users.index(targets["user_id"].to_numpy())
    i = items.index(targets["movie_id"].to_numpy())
    keep = u >= 0  # users unknown to the index cannot be scored; count items as misses
    return u[keep], i[keep]


@dataclass
class PerUser:
    """One protocol run: per-user metric vectors (same user order for every scorer on the
    same split, so they pair) plus aggregate-only figures such as catalogue coverage."""

    users: np.ndarray
    values: dict[str, np.ndarray]
    aggregate: dict[str, float] = field(default_factory=dict)

    def means(self) -> dict[str, float]:
        out = {k: float(v.mean()) if len(v) else 0.0 for k, v in self.values.items()}
        return {**out, **self.aggregate}


def full_ranking_per_user(
    model: base.Recommender,
    history: sp.csr_matrix,
    targets: pd.DataFrame,
    *,
    batch: int = 512,
) -> PerUser:
    """Leave-last-out, full ranking: rank each target among ALL items the user has not
    interacted with in ``history`` (exact rank, ties against the target).

    ``history`` is the ordered matrix of the training rows (``TrainData.ordered_matrix``);
    each model turns it into its own weights with ``prepare_history``.
    """
    users, items = _targets(targets, model.users, model.items)
    ranks = np.empty(len(users), np.int64)
    tops = []
    for start in range(0, len(users), batch):
        u, i = users[start : start + batch], items[start : start + batch]
        hist = model.prepare_history(history[u])
        scores = mask_history(model.score(u, hist), hist)
        known = i >= 0
        r = np.full(len(u), model.n_items, np.int64)
        if known.any():
            r[known] = metrics.rank_of_targets(scores[known], i[known])
        ranks[start : start + batch] = r
        tops.append(base.top_n(scores, K))
    top = np.concatenate(tops) if tops else np.empty((0, K), np.int64)
    return PerUser(
        users,
        metrics.per_user_rank_metrics(ranks, K, K_RECALL),
        {"coverage@10": metrics.coverage(top, model.n_items)},
    )


def full_ranking(
    model: base.Recommender,
    history: sp.csr_matrix,
    targets: pd.DataFrame,
    *,
    batch: int = 512,
) -> dict[str, float]:
    """Means of :func:`full_ranking_per_user` (HR@10, NDCG@10, Recall@20, MRR@10, coverage)."""
    return full_ranking_per_user(model, history, targets, batch=batch).means()


def ranking_metrics(ranks: np.ndarray, top: np.ndarray, n_items: int) -> dict[str, float]:
    means = {
        k: float(v.mean()) if len(v) else 0.0
        for k, v in metrics.per_user_rank_metrics(ranks, K, K_RECALL).items()
    }
    return {**means, "coverage@10": metrics.coverage(top, n_items)}


def _lists(
    ranker: Ranker, users: np.ndarray, history: sp.csr_matrix, k: int, batch: int
) -> np.ndarray:
    parts = []
    for start in range(0, len(users), batch):
        u = users[start : start + batch]
        hist = history[u]
        parts.append(clean_lists(ranker.rank(u, hist, k), hist, k))
    return np.concatenate(parts) if parts else np.empty((0, k), np.int64)


def leave_last_out_lists(
    ranker: Ranker,
    history: sp.csr_matrix,
    targets: pd.DataFrame,
    users_map: IdMap,
    items_map: IdMap,
    *,
    batch: int = 256,
) -> PerUser:
    """Leave-last-out for any ranker: the target's position in its top-20 list (beyond
    the list = miss); same metrics as :func:`full_ranking_per_user`."""
    users, items = _targets(targets, users_map, items_map)
    top = _lists(ranker, users, history, K_RECALL, batch)
    ranks = metrics.ranks_in_lists(top, items)
    return PerUser(
        users,
        metrics.per_user_rank_metrics(ranks, K, K_RECALL),
        {"coverage@10": metrics.coverage(top[:, :K][top[:, :K] >= 0], len(items_map))},
    )


def relevant_matrix(test: pd.DataFrame, users_map: IdMap, items_map: IdMap):
    """(evaluated user indices, their relevant items as a CSR with one row per user)."""
    mat = interaction_matrix(test, users_map, items_map)
    users = np.flatnonzero(np.diff(mat.indptr) > 0)
    return users, mat[users]


def random_holdout(
    ranker: Ranker,
    history: sp.csr_matrix,
    test: pd.DataFrame,
    users_map: IdMap,
    items_map: IdMap,
    *,
    k: int = K,
    batch: int = 256,
) -> PerUser:
    """Random per-user holdout: rank over all unseen items; per-user NDCG@k, Precision@k,
    Recall@k and MAP@k against every held-out item (MS Recommenders definitions)."""
    users, relevant = relevant_matrix(test, users_map, items_map)
    top = _lists(ranker, users, history, k, batch)
    hits = metrics.hits_matrix(top, relevant)
    n_rel = np.diff(relevant.indptr)
    values = {
        f"ndcg@{k}": metrics.ndcg_at_k(hits, n_rel, k),
        f"precision@{k}": metrics.precision_at_k(hits, k),
        f"recall@{k}": metrics.recall_at_k(hits, n_rel, k),
        f"map@{k}": metrics.map_at_k(hits, n_rel, k),
    }
    return PerUser(
        users, values, {f"coverage@{k}": metrics.coverage(top[top >= 0], len(items_map))}
    )


def candidate_recall(
    source: CandidateSource,
    history: sp.csr_matrix,
    test: pd.DataFrame,
    users_map: IdMap,
    items_map: IdMap,
    *,
    ns: tuple[int, ...] = (100, 300),
    batch: int = 256,
) -> PerUser:
    """Stage-1 recall@N: share of each user's held-out items among its N candidates.

    Works for both protocols (leave-last-out: one held-out item per user). The source is
    asked once for max(ns) candidates; recall@n uses the first n it returned.
    """
    users, relevant = relevant_matrix(test, users_map, items_map)
    n_max = max(ns)
    parts = []
    for start in range(0, len(users), batch):
        u = users[start : start + batch]
        hist = history[u]
        parts.append(clean_lists(source.candidates(u, hist, n_max), hist, n_max))
    cands = np.concatenate(parts) if parts else np.empty((0, n_max), np.int64)
    hits = metrics.hits_matrix(cands, relevant)
    n_rel = np.diff(relevant.indptr)
    return PerUser(users, {f"recall@{n}": metrics.recall_at_k(hits, n_rel, n) for n in ns})


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
