from __future__ import annotations

import numpy as np
import pandas as pd

from kryptonite.models.content import ContentModel
from kryptonite.models.data import TrainData
from kryptonite.models.evaluation import protocols, splits
from kryptonite.models.item2item import ItemKNN
from kryptonite.models.mf import BiasBaseline, ExplicitMF, ImplicitMF
from kryptonite.models.popularity import Popularity


def test_fold_in_matches_trained_user_vector(tiny: TrainData) -> None:
    model = ImplicitMF(factors=4, iterations=10, recency_half_life=0, threads=1).fit(tiny)
    hist = model.prepare_history(tiny.ordered_matrix()[[0, 5]])
    folded = model.fold_in(hist)
    trained = model.user_factors[[0, 5]]
    cos = (
        (folded * trained).sum(1) / np.linalg.norm(folded, axis=1) / np.linalg.norm(trained, axis=1)
    )
    assert (cos > 0.99).all()


def test_explicit_mf_beats_bias_on_low_rank_ratings() -> None:
    rng = np.random.default_rng(3)
    p, q = rng.normal(size=(80, 2)), rng.normal(size=(60, 2))
    u, i = np.nonzero(rng.random((80, 60)) < 0.5)
    r = np.clip(3 + (p[u] * q[i]).sum(1) + rng.normal(0, 0.2, len(u)), 0.5, 5)
    frame = pd.DataFrame({"user_id": u + 1, "movie_id": i + 1, "rating": r, "timestamp": 0})
    train, test = splits.random_split(frame, 0.2, seed=1)
    data = TrainData(train)
    bias = protocols.rating_error(BiasBaseline().fit(data), test)
    mf = protocols.rating_error(ExplicitMF(factors=4, reg=0.05, iterations=8).fit(data), test)
    assert mf["rmse"] < 0.8 * bias["rmse"], (mf, bias)


def test_content_similar_and_list_only_cold_start(tiny: TrainData) -> None:
    model = ContentModel(popularity_weight=0.0).fit(tiny)
    similar = model.similar_items([1], n=5)
    assert len(similar) == 5 and all(m % 2 == 1 for m, _ in similar)  # same genres as movie 1
    assert model.similar_items([12345]) == []
    # a user unknown to the model with a list and nothing else: content of the list
    listed = [3, 5]
    recs = model.recommend(999_999, listed, n=5)
    assert len(recs) == 5 and all(m % 2 == 1 for m, _ in recs), recs
    assert not set(listed) & {m for m, _ in recs}
    assert model.recommend(999_999, [4, 6], n=5)[0][0] % 2 == 0


def test_popularity_decay_prefers_recent() -> None:
    frame = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "movie_id": [1, 1, 2],
            "rating": 4.0,
            "timestamp": [0, 0, 86_400 * 100],
        }
    )
    assert Popularity().fit(TrainData(frame)).top(1)[0][0] == 1
    assert Popularity(half_life_days=5).fit(TrainData(frame)).top(1)[0][0] == 2


def test_item2item_similar_set(tiny: TrainData) -> None:
    recs = ItemKNN(neighbours=10).fit(tiny).similar_items([2, 4], n=3)
    assert len(recs) == 3 and all(m % 2 == 0 for m, _ in recs) and not {2, 4} & {m for m, _ in recs}
