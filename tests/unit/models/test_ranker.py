"""Stage-two ranker: its loss, its training split, its features, and that it learns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from tests.unit.models.test_interface import STAGE1

from kryptonite.models.data import TrainData
from kryptonite.models.ranker.features import NAMES, UserQuery, features, ridge_anchor
from kryptonite.models.ranker.model import (
    StageTwoRanker,
    holdout_split,
    listwise_loss,
    random_split,
)
from kryptonite.serving.config import ServedConfig
from kryptonite.serving.stage1 import stage1_builder


def test_listwise_loss_is_minus_log_softmax_mass_of_positives() -> None:
    logits = torch.tensor([[2.0, 0.0, 1.0, 5.0]])
    labels = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    mask = torch.tensor([[True, True, True, False]])  # the 4th is padding
    expected = -np.log((np.exp(2) + np.exp(1)) / (np.exp(2) + np.exp(0) + np.exp(1)))
    assert abs(float(listwise_loss(logits, labels, mask)) - expected) < 1e-6


def test_weighted_listwise_loss_weighs_each_candidate_set() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    each = [-np.log(np.exp(2) / (np.exp(2) + 1)), -np.log(1 / (1 + np.exp(3)))]
    weighted = float(listwise_loss(logits, labels, mask, torch.tensor([1.0, 3.0])))
    assert abs(weighted - (each[0] + 3 * each[1]) / 4) < 1e-6


def test_random_split_holds_out_k_per_user_who_keeps_enough() -> None:
    ratings = pd.DataFrame(
        {"user_id": [1] * 6 + [2] * 3, "movie_id": range(9), "rating": 4.0, "timestamp": 0}
    )
    rest, held = random_split(ratings, 3, np.random.default_rng(0), min_left=2)
    assert list(held["user_id"]) == [1, 1, 1]  # user 2 would keep too few
    assert sorted([*rest["movie_id"], *held["movie_id"]]) == list(range(9))


def test_holdout_split_takes_each_users_last_k_by_time() -> None:
    ratings = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 2, 2],
            "movie_id": [10, 11, 12, 13, 20, 21],
            "rating": 4.0,
            "timestamp": [4, 3, 2, 1, 1, 2],
        }
    )
    rest, held = holdout_split(ratings, k=2, min_left=2)
    assert sorted(held["movie_id"]) == [10, 11]  # user 1's latest two
    assert sorted(rest["movie_id"]) == [12, 13, 20, 21]  # user 2 keeps too few: all rest


def _fitted(tiny: TrainData) -> StageTwoRanker:
    builder = stage1_builder(STAGE1, ServedConfig(candidates=20, history=10))
    return StageTwoRanker(stage1=builder, holdout=2, epochs=30).fit(tiny)


def test_features_shape_ranks_and_sources(tiny: TrainData) -> None:
    ranker = _fitted(tiny)
    ids = np.array([2, 4, 6, 1, 999], np.int64)  # 999: unknown movie
    q = UserQuery(0, np.array([8, 10, 12]), ids, np.array([5, 1, 2, 4, 3]))
    x = features(ranker.fm, q)
    assert x.shape == (5, len(NAMES)) and np.isfinite(x).all()
    assert (x[-1] == 0).all()  # an unknown candidate gets neutral features
    col = {n: i for i, n in enumerate(NAMES)}
    assert x[0, col["source_5"]] == 1 and x[1, col["source_1"]] == 1
    # same-group candidates (even ids, like the history) out-score the odd one by content
    assert x[:3, col["content"]].min() > x[3, col["content"]]
    ranks = 1.0 / (1.0 + np.arange(5))  # rank within the candidate set, 1 = best
    assert all(np.isclose(ranks, v).any() for v in x[:4, col["ridge_rank"]])


def test_ranker_puts_the_users_group_first_and_explains_with_a_same_group_anchor(
    tiny: TrainData,
) -> None:
    ranker = _fitted(tiny)
    cands = np.arange(1, 41, dtype=np.int64)
    history = np.array([2, 4, 6, 8])  # group 0 (even ids)
    scores = ranker.score_candidates(UserQuery(0, history, cands, np.ones(40, np.int64)))
    top = cands[np.argsort(-scores)][:10]
    assert sum(m % 2 == 0 for m in top) >= 9, top
    anchors = ridge_anchor(ranker.fm, history, top)
    assert all(a in history for a in anchors if a)
    assert (anchors > 0).sum() >= 5


def test_evaluation_scores_exactly_the_stage_one_candidates(tiny: TrainData) -> None:
    """After fit, ``score`` (what the promotion gate and evaluate call) ranks each user's
    stage-one candidates as served; every other movie is -inf."""
    ranker = _fitted(tiny)
    users = np.arange(3)
    history = TrainData(tiny.ratings, users=ranker.users, items=ranker.items).ordered_matrix()
    scores = ranker.score(users, ranker.prepare_history(history[users]))
    for row, u in enumerate(users):
        lo, hi = history.indptr[u], history.indptr[u + 1]
        hist = ranker.items.ids[history.indices[lo:hi][np.argsort(-history.data[lo:hi])]]
        ids, sources, seen = ranker.candidates_of(int(ranker.users.ids[u]), hist)
        finite = np.isfinite(scores[row])
        assert set(ranker.items.ids[finite]) == set(ids.tolist()) and 0 < finite.sum() <= 20
        served = ranker.score_candidates(UserQuery(int(ranker.users.ids[u]), seen, ids, sources))
        assert np.allclose(scores[row, ranker.items.index(ids)], served)
