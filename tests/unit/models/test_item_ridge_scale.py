"""item_ridge picks its scalable variant by itself when the catalog is too big for a dense
inverse: weights for the most interacted items only, with a logged reason."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from kryptonite.models.data import TrainData
from kryptonite.models.item2item import ItemRidge


def test_big_catalogs_restrict_the_inverse(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 200, 60
    movies = np.minimum(rng.zipf(1.3, 4000), n_items)  # skewed popularity, ids 1..60
    ratings = pd.DataFrame(
        {
            "user_id": rng.integers(1, n_users + 1, 4000),
            "movie_id": movies,
            "rating": 4.0,
            "timestamp": np.arange(4000),
        }
    ).drop_duplicates(["user_id", "movie_id"])
    data = TrainData(ratings)
    counts = ratings["movie_id"].value_counts()

    with caplog.at_level(logging.WARNING, "kryptonite.models.item2item"):
        capped = ItemRidge(l2=1.0, min_count=1, max_items=10).fit(data)
    assert capped.b.shape == (10, 10)
    top10 = set(counts.index[:10].tolist())
    assert set(data.item_map.id_of(capped.support).tolist()) == top10
    assert "10 most interacted items only" in caplog.text

    full = ItemRidge(l2=1.0, min_count=1, max_items=0).fit(data)
    assert len(full.support) == ratings["movie_id"].nunique()
    history = data.implicit_matrix()[:5]
    scores = capped.score(np.arange(5), history)
    assert scores.shape == (5, data.item_map.ids.size)
    outside = np.setdiff1d(np.arange(scores.shape[1]), capped.support)
    assert not scores[:, outside].any()
