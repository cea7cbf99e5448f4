"""Stage two's diversification (MMR over item vectors) and its reasons (the anchor and
kind explaining each ranked item), without a server: MMR on hand-made vectors, reasons on
small real stage-one models fitted to planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kryptonite.models.content import ContentModel
from kryptonite.models.data import TrainData
from kryptonite.models.item2item import ItemKNN, ItemRidge
from kryptonite.models.mf import ImplicitMF
from kryptonite.models.popularity import Popularity
from kryptonite.models.ranker.model import StageTwoRanker
from kryptonite.ranking.scoring import RankingModel, RankQuery, mmr, reasons
from kryptonite.rpc.generated.v1 import common_pb2
from kryptonite.serving.stage1 import feature_models

WATCHED = common_pb2.REASON_KIND_BECAUSE_WATCHED
LISTED = common_pb2.REASON_KIND_BECAUSE_LISTED
POPULAR_KIND = common_pb2.REASON_KIND_POPULAR
PERSONAL = common_pb2.REASON_KIND_PERSONALIZED
MF = common_pb2.CANDIDATE_SOURCE_MF
POPULAR = common_pb2.CANDIDATE_SOURCE_POPULAR
RIDGE = common_pb2.CANDIDATE_SOURCE_ITEM_RIDGE


def unit(*rows: list[float]) -> np.ndarray:
    vecs = np.asarray(rows, np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


# ---------------------------------------------------------------- mmr
#: 0 and 1 are near-duplicates (1 a little less relevant), 2 points elsewhere.
REL = np.asarray([1.0, 0.9, 0.5], np.float32)
VECS = unit([1.0, 0.0], [0.99, 0.05], [0.0, 1.0])


def test_no_diversity_is_the_relevance_order() -> None:
    rel = np.asarray([0.2, 0.9, 0.5, 0.9, -1.0], np.float32)
    vecs = unit(*[[1.0, 0.0]] * 5)
    assert mmr(rel, vecs, 5, 0.0).tolist() == [1, 3, 2, 0, 4]  # ties: request order
    assert mmr(rel, vecs, 2, 0.0).tolist() == [1, 3]
    assert mmr(REL, VECS, 3, 0.0).tolist() == [0, 1, 2]


def test_diversity_pushes_a_near_duplicate_below_a_dissimilar_movie() -> None:
    assert mmr(REL, VECS, 3, 0.5).tolist() == [0, 2, 1]
    assert mmr(REL, VECS, 2, 0.5).tolist() == [0, 2]


def test_a_little_diversity_keeps_the_relevance_order() -> None:
    assert mmr(REL, VECS, 3, 0.05).tolist() == [0, 1, 2]


@pytest.mark.parametrize("diversity", [0.0, 0.3, 0.9])
def test_the_most_relevant_movie_comes_first(diversity: float) -> None:
    rel = np.asarray([0.1, 0.3, 0.8, 0.2], np.float32)
    vecs = unit([1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0])
    assert int(mmr(rel, vecs, 4, diversity)[0]) == 2


@pytest.mark.parametrize("diversity", [0.0, 0.5])
def test_k_larger_than_n_gives_every_movie_once(diversity: float) -> None:
    order = mmr(REL, VECS, 10, diversity)
    assert sorted(order.tolist()) == [0, 1, 2]


@pytest.mark.parametrize("diversity", [0.0, 0.5])
def test_no_candidates(diversity: float) -> None:
    order = mmr(np.empty(0, np.float32), np.empty((0, 2), np.float32), 10, diversity)
    assert len(order) == 0


def test_constant_relevance_spreads_by_similarity_alone() -> None:
    rel = np.full(3, 0.7, np.float32)
    vecs = unit([1.0, 0.0], [1.0, 0.01], [0.0, 1.0])
    assert mmr(rel, vecs, 3, 0.5).tolist() == [0, 2, 1]
    assert mmr(rel, vecs, 3, 0.0).tolist() == [0, 1, 2]


@pytest.mark.parametrize(("n", "k"), [(1, 1), (7, 3), (30, 30), (30, 50)])
@pytest.mark.parametrize("diversity", [0.0, 0.2, 0.7, 1.0])
def test_the_order_is_distinct_indices_of_the_candidates(n: int, k: int, diversity: float) -> None:
    rng = np.random.default_rng(n * 100 + k)
    rel = rng.normal(size=n).astype(np.float32)
    vecs = rng.normal(size=(n, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    order = mmr(rel, vecs, k, diversity).tolist()
    assert len(order) == min(k, n)
    assert len(set(order)) == len(order)
    assert set(order) <= set(range(n))


# ---------------------------------------------------------------- reasons
#: Odd and even movies are two taste groups: history and candidates of one group share
#: item-item weight, the other group's do not.
N_USERS, N_MOVIES = 60, 40
CANDIDATES = np.asarray([7, 9, 11, 13, 15, 2, 4], np.int64)
SOURCES = np.asarray([MF, RIDGE, POPULAR, RIDGE, MF, POPULAR, MF], np.int64)
HISTORY = (1, 3, 5)


def planted() -> TrainData:
    rng = np.random.default_rng(0)
    rows = []
    for user in range(1, N_USERS + 1):
        pool = np.arange(2 - user % 2, N_MOVIES + 1, 2)
        for t, movie in enumerate(rng.choice(pool, size=10, replace=False)):
            rows.append((user, int(movie), 4.0, 1_000_000 + 100 * t + user))
    ratings = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])
    ratings["rating"] = ratings["rating"].astype("float32")
    ids = np.arange(1, N_MOVIES + 1)
    movies = pd.DataFrame(
        {
            "movie_id": ids,
            "title": [f"Movie {i}" for i in ids],
            "genres": [["Comedy"] if i % 2 else ["Horror"] for i in ids],
        }
    )
    return TrainData(ratings, movies=movies)


@pytest.fixture(scope="module")
def ranking() -> RankingModel:
    """A ranking bundle over fitted stage-one models (``reasons`` reads only those)."""
    data = planted()
    models = {
        "item_ridge": ItemRidge(l2=1.0, min_count=1).fit(data),
        "item2item": ItemKNN(neighbours=10).fit(data),
        "mf_implicit": ImplicitMF(factors=4, iterations=5, threads=1).fit(data),
        "content": ContentModel().fit(data),
        "popularity": Popularity().fit(data),
    }
    ranker = StageTwoRanker()
    ranker.fm = feature_models(models)
    return RankingModel(ranker, None, np.zeros((len(ranker.fm.items), 4), np.float32))


def explain(
    ranking: RankingModel,
    recent: tuple[int, ...] = (),
    listed: tuple[int, ...] = (),
    low_rated: tuple[int, ...] = (),
) -> tuple[list[int], list[int]]:
    q = RankQuery(
        user_id=0,
        movie_ids=CANDIDATES,
        retrieval_scores=np.zeros(len(CANDIDATES), np.float32),
        sources=SOURCES,
        limit=len(CANDIDATES),
        diversity=0.0,
        recent=recent,
        listed=listed,
        low_rated=low_rated,
    )
    anchors, kinds = reasons(ranking, CANDIDATES, SOURCES, q)
    assert len(anchors) == len(kinds) == len(CANDIDATES)
    return anchors.tolist(), kinds.tolist()


def test_anchors_come_from_the_history_and_name_a_similar_movie(ranking: RankingModel) -> None:
    anchors, _ = explain(ranking, recent=(1, 3), listed=(5,))
    same_group = [a for m, a in zip(CANDIDATES, anchors, strict=True) if m % 2]
    other_group = [a for m, a in zip(CANDIDATES, anchors, strict=True) if m % 2 == 0]
    assert set(same_group) <= {0, *HISTORY} and any(same_group)
    assert other_group and other_group == [0] * len(other_group)


def test_the_kind_says_whether_the_anchor_was_watched_or_added(ranking: RankingModel) -> None:
    for recent, listed, kind in (((), HISTORY, LISTED), (HISTORY, (), WATCHED)):
        anchors, kinds = explain(ranking, recent=recent, listed=listed)
        anchored = [k for a, k in zip(anchors, kinds, strict=True) if a]
        assert anchored and set(anchored) == {kind}
    # a movie both watched and on the list: "added"
    anchors, kinds = explain(ranking, recent=HISTORY, listed=HISTORY)
    anchored = [k for a, k in zip(anchors, kinds, strict=True) if a]
    assert anchored and set(anchored) == {LISTED}
    # mixed: the kind follows the anchor
    anchors, kinds = explain(ranking, recent=(1, 3), listed=(5,))
    for anchor, kind in zip(anchors, kinds, strict=True):
        if anchor:
            assert kind == (LISTED if anchor == 5 else WATCHED)


def test_without_an_anchor_popular_or_personalised_by_source(ranking: RankingModel) -> None:
    for recent in ((), HISTORY):  # no history, or a history explaining nothing
        low = HISTORY if recent else ()
        anchors, kinds = explain(ranking, recent=recent, low_rated=low)
        assert anchors == [0] * len(CANDIDATES)
        expected = [POPULAR_KIND if s == POPULAR else PERSONAL for s in SOURCES]
        assert kinds == expected


def test_a_low_rated_movie_is_never_an_anchor(ranking: RankingModel) -> None:
    anchors, _ = explain(ranking, recent=HISTORY)
    used = {a for a in anchors if a}
    assert used  # some movie of the history explains something
    for low in used:
        anchors, _ = explain(ranking, recent=HISTORY, low_rated=(low,))
        assert low not in anchors
