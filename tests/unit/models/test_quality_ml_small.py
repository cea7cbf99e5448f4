"""Quality bars on real ml-latest-small (validation split; the full table is the CLI's).

Only the fast models run here (< 60 s): the full comparison with NCF and the external
baselines on the test interaction is `kryptonite evaluate` (docs/models.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kryptonite.datasets.movielens import load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.models.data import IdMap, TrainData
from kryptonite.models.evaluation import protocols, splits
from kryptonite.models.item2item import ItemKNN
from kryptonite.models.mf import BiasBaseline, ExplicitMF, ImplicitMF
from kryptonite.models.popularity import Popularity

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def frames(data_dir: Path):
    return load_dataset(
        get_spec("ml-latest-small"), data_dir / "ml-latest-small", extras_dir=data_dir
    )


def test_personalized_models_beat_popularity(frames) -> None:
    split = splits.leave_last_out(frames.ratings)
    users = IdMap.from_ids(frames.ratings.user_id.to_numpy())
    items = IdMap.from_ids(frames.ratings.movie_id.to_numpy())
    train = TrainData(split.train, users=users, items=items)
    hist = train.ordered_matrix()

    def ndcg(model) -> float:
        return protocols.full_ranking(model.fit(train), hist, split.validation)["ndcg@10"]

    pop = ndcg(Popularity())
    assert ndcg(ImplicitMF(alpha=10.0, recency_half_life=3.0)) >= 1.5 * pop
    assert ndcg(ItemKNN(alpha=0.7, shrink=10.0, recency_half_life=3.0)) > pop


def test_explicit_mf_beats_bias_baseline(frames) -> None:
    train, test = splits.random_split(frames.ratings, 0.2, seed=42)
    data = TrainData(train)
    bias = protocols.rating_error(BiasBaseline(reg=5.0).fit(data), test)["rmse"]
    mf = protocols.rating_error(ExplicitMF(factors=32, reg=0.2).fit(data), test)["rmse"]
    assert mf < bias - 0.005, (mf, bias)
