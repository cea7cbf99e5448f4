"""The shared contract every model satisfies (one test set, every model)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from kryptonite.models.base import Recommender
from kryptonite.models.content import ContentModel
from kryptonite.models.data import TrainData
from kryptonite.models.evaluation.baselines import EASE, ImplicitALS, ImplicitBM25
from kryptonite.models.item2item import ItemKNN, ItemRidge
from kryptonite.models.mf import BiasBaseline, ExplicitMF, ImplicitMF
from kryptonite.models.ncf.model import NCF
from kryptonite.models.popularity import Popularity
from kryptonite.models.ranker.model import StageTwoRanker
from kryptonite.models.registry import load_model
from kryptonite.serving.config import ServedConfig
from kryptonite.serving.stage1 import stage1_builder

FACTORIES: dict[str, Callable[[], Recommender]] = {
    "popularity": lambda: Popularity(half_life_days=30),
    "content": lambda: ContentModel(popularity_weight=0.0),
    "item2item": lambda: ItemKNN(neighbours=10),
    "item_ridge": lambda: ItemRidge(l2=1.0, min_count=1),
    "mf_implicit": lambda: ImplicitMF(factors=4, iterations=5, threads=1),
    "mf_explicit": lambda: ExplicitMF(factors=4, iterations=3),
    "bias": lambda: BiasBaseline(),
    "ncf": lambda: NCF(factors=8, layers=[16, 8], epochs=3, batch_size=256, threads=1),
    "ease": lambda: EASE(l2=1.0),
    "als": lambda: ImplicitALS(factors=4, iterations=3, threads=1),
    "bm25": lambda: ImplicitBM25(neighbours=10, threads=1),
}
#: The ranker reads the stage-one models above (fitted inside its own training split).
STAGE1 = {name: FACTORIES[name] for name in ("popularity", "content", "item2item", "item_ridge")}
STAGE1["mf_implicit"] = FACTORIES["mf_implicit"]
FACTORIES["ranker"] = lambda: StageTwoRanker(
    stage1=stage1_builder(STAGE1, ServedConfig(candidates=20, history=10)), holdout=2, epochs=30
)
# Models that should put a user's own taste group first (ranking, not rating, models).
GROUP_AWARE = {
    "content",
    "item2item",
    "item_ridge",
    "mf_implicit",
    "ncf",
    "ease",
    "als",
    "bm25",
    "ranker",
}


@pytest.fixture(scope="module", params=sorted(FACTORIES))
def fitted(request, tiny: TrainData) -> tuple[str, Recommender]:
    return request.param, FACTORIES[request.param]().fit(tiny)


def test_score_shape_and_finite(fitted, tiny: TrainData) -> None:
    _, model = fitted
    users = np.array([0, 1, -1])
    scores = model.score(users, model.prepare_history(tiny.ordered_matrix()[[0, 1, 1]]))
    assert scores.shape == (3, len(tiny.item_map))
    if isinstance(model, StageTwoRanker):  # scores stage one's candidates only, as served
        assert np.isfinite(scores).any(axis=1).all() and not np.isnan(scores).any()
    else:
        assert np.isfinite(scores).all()


def test_recommend_excludes_history_and_is_sorted(fitted, tiny: TrainData) -> None:
    _, model = fitted
    seen = tiny.ratings.loc[tiny.ratings.user_id == 1, "movie_id"].tolist()
    recs = model.recommend(1, seen, n=5)
    assert len(recs) == 5
    assert not set(seen) & {m for m, _ in recs}
    scores = [s for _, s in recs]
    assert scores == sorted(scores, reverse=True)


def test_save_load_roundtrip(fitted, tiny: TrainData, tmp_path) -> None:
    name, model = fitted
    model.save(tmp_path / name)
    loaded = load_model(tmp_path / name)
    if isinstance(model, StageTwoRanker):  # its features come from the stage-one models
        loaded.bind(model.fm, model.candidates_of)
    assert type(loaded) is type(model)
    assert loaded.params == model.params
    hist = model.prepare_history(tiny.ordered_matrix()[[2, 3]])
    np.testing.assert_allclose(
        loaded.score(np.array([2, 3]), hist), model.score(np.array([2, 3]), hist), atol=1e-5
    )
    assert not list((tmp_path / name).glob("*.pkl"))


def test_personalized_models_follow_taste(fitted, tiny: TrainData) -> None:
    name, model = fitted
    if name not in GROUP_AWARE:
        pytest.skip("not a taste-ranking model")
    hits = 0
    for user in range(1, 11):
        seen = tiny.ratings.loc[tiny.ratings.user_id == user].sort_values("timestamp")
        recs = model.recommend(user, seen["movie_id"].tolist(), n=5)
        hits += sum((m % 2) == (user % 2) for m, _ in recs)
    assert hits >= 0.8 * 50, f"{name}: only {hits}/50 in-group recommendations"


def test_cold_user_from_list_only(fitted, tiny: TrainData) -> None:
    """A user unseen at training time, with a few listed movies (odd ids = group 1)."""
    name, model = fitted
    if name not in GROUP_AWARE - {"als"}:  # plain ALS baseline has no fold-in
        pytest.skip("no history-based scoring")
    recs = model.recommend(None, [1, 3, 5, 7], n=5)
    assert sum(m % 2 for m, _ in recs) >= 4


def test_item_similarity_relates_a_taste_group(fitted) -> None:
    """Models with an item-item relation find a movie's own group (odd/even) more alike."""
    name, model = fitted
    try:
        sims = model.item_similarity([1, 2, 99_999], [3, 5, 4, 6])
    except NotImplementedError:
        pytest.skip("no item-item similarity")
    assert sims.shape == (3, 4) and not sims[2].any()  # an unknown movie relates to nothing
    every = model.item_similarity([1, 99_999])  # against every item, in index order
    assert every.shape == (2, model.n_items) and not every[1].any()
    np.testing.assert_array_equal(every[0], model.item_similarity([1], model.items.ids)[0])
    assert sims[0, :2].mean() > sims[0, 2:].mean() and sims[1, 2:].mean() > sims[1, :2].mean()


def test_rank_items_scores_the_given_movies(fitted, tiny: TrainData) -> None:
    """Scores of exactly the given movies, NaN for an unknown one, None for a user the
    model knows nothing of; a list of odd movies ranks odd candidates first."""
    name, model = fitted
    if name not in GROUP_AWARE - {"als", "ranker"}:
        pytest.skip("no history-based scoring")
    assert model.rank_items(None, [1, 2]) is None
    candidates = np.array([*range(8, tiny.item_map.ids.max() + 1), 99_999])
    scores = model.rank_items(None, candidates, history_ids=[1, 3, 5, 7])
    assert scores is not None and scores.shape == candidates.shape and np.isnan(scores[-1])
    odd = candidates[:-1] % 2 == 1
    assert scores[:-1][odd].mean() > scores[:-1][~odd].mean(), (name, scores)
    full = model.score_items(None, candidates[:-1], [1, 3, 5, 7])  # over the whole catalog
    np.testing.assert_allclose(scores[:-1], full, rtol=1e-4, atol=1e-5)


def test_user_and_item_vectors_share_a_space(fitted) -> None:
    name, model = fitted
    try:
        items, vec = model.item_vectors(), model.user_vector(None, [1, 3, 5, 7])
    except NotImplementedError:
        pytest.skip("no item and user vectors")
    assert items.shape[0] == model.n_items
    assert model.user_vector(None) is None
    assert vec is not None and vec.shape == (items.shape[1],)
    scores = items @ vec
    odd = model.items.ids % 2 == 1
    assert scores[odd].mean() > scores[~odd].mean()
