from __future__ import annotations

import numpy as np
import pandas as pd

from kryptonite.models.evaluation import metrics, splits


def test_rank_ties_count_against_target() -> None:
    scores = np.array([[0.0, 0.0, 0.0, 0.0], [0.1, 0.9, 0.5, 0.3]])
    ranks = metrics.rank_of_targets(scores, np.array([2, 2]))
    assert ranks.tolist() == [3, 1]


def test_ranking_metric_values() -> None:
    ranks = np.array([0, 1, 9, 10, 50])
    assert metrics.hit_rate(ranks, 10) == 0.6
    expected = (1 + 1 / np.log2(3) + 1 / np.log2(11)) / 5
    assert abs(metrics.ndcg(ranks, 10) - expected) < 1e-12
    assert abs(metrics.mrr(ranks, 10) - (1 + 0.5 + 0.1) / 5) < 1e-12
    assert metrics.recall(ranks, 20) == 0.8
    assert metrics.coverage(np.array([[0, 1], [1, 2]]), 10) == 0.3
    assert metrics.rmse(np.array([1.0, 3.0]), np.array([2.0, 2.0])) == 1.0
    assert metrics.mae(np.array([1.0, 4.0]), np.array([2.0, 2.0])) == 1.5


def test_leave_last_out_is_temporal_and_deterministic() -> None:
    ratings = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 1, 2, 2, 3, 3, 3],
            "movie_id": [10, 11, 12, 13, 10, 11, 5, 6, 7],
            "rating": 4.0,
            "timestamp": [4, 1, 3, 2, 1, 2, 5, 5, 5],
        }
    )
    s = splits.leave_last_out(ratings.sample(frac=1, random_state=3))
    assert dict(zip(s.test.user_id, s.test.movie_id, strict=True)) == {1: 10, 3: 7}
    assert dict(zip(s.validation.user_id, s.validation.movie_id, strict=True)) == {1: 12, 3: 6}
    assert len(s.train) == 5 and set(s.train[s.train.user_id == 2].movie_id) == {10, 11}
    again = splits.leave_last_out(ratings)
    pd.testing.assert_frame_equal(s.test, again.test)


def test_random_split_is_seeded() -> None:
    frame = pd.DataFrame({"user_id": range(1000), "movie_id": 1, "rating": 3.0, "timestamp": 0})
    a, b = splits.random_split(frame, 0.2, seed=7), splits.random_split(frame, 0.2, seed=7)
    pd.testing.assert_frame_equal(a[1], b[1])
    assert 150 < len(a[1]) < 250 and len(a[0]) + len(a[1]) == 1000
