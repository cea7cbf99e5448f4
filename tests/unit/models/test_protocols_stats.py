"""Random per-user holdout, multi-relevant metrics, bootstrap intervals, paired tests,
rankers and candidate recall (hand-computed values and real models on tiny data)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kryptonite.models.data import TrainData
from kryptonite.models.evaluation import metrics, protocols, splits, stats
from kryptonite.models.evaluation.scorers import ModelRanker, clean_lists, model_factory
from kryptonite.models.item2item import ItemKNN
from kryptonite.models.popularity import Popularity
from kryptonite.pipeline.evaluate import evaluate, select


def test_multi_relevant_metrics_match_hand_computation() -> None:
    top = np.array([[3, 1, 7, -1], [5, 6, 2, 0]])
    relevant = sp.csr_matrix(
        np.array([[0, 1, 0, 0, 0, 0, 0, 1, 0, 1], [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]])
    )
    hits = metrics.hits_matrix(top, relevant)
    assert hits.tolist() == [[False, True, True, False], [True, False, False, False]]
    n_rel = np.array([3, 1])
    assert metrics.precision_at_k(hits, 4).tolist() == [0.5, 0.25]
    assert np.allclose(metrics.recall_at_k(hits, n_rel, 4), [2 / 3, 1.0])
    dcg = 1 / np.log2(3) + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert np.allclose(metrics.ndcg_at_k(hits, n_rel, 4), [dcg / idcg, 1.0])
    assert np.allclose(metrics.map_at_k(hits, n_rel, 4), [(1 / 2 + 2 / 3) / 3, 1.0])
    # cut-off 2: first user has one hit at position 2 out of min(3, 2) = 2 possible
    assert np.allclose(metrics.map_at_k(hits, n_rel, 2), [(1 / 2) / 2, 1.0])
    assert np.allclose(
        metrics.ndcg_at_k(hits, n_rel, 2), [(1 / np.log2(3)) / (1 + 1 / np.log2(3)), 1.0]
    )


def test_ranks_in_lists_and_per_user_rank_metrics() -> None:
    top = np.array([[4, 2, 9], [1, 0, 3], [7, 8, 6]])
    ranks = metrics.ranks_in_lists(top, np.array([9, 5, -1]))
    assert ranks.tolist() == [2, 3, 3]
    m = metrics.per_user_rank_metrics(np.array([0, 2, 15]), k=10, k_recall=20)
    assert m["hr@10"].tolist() == [1.0, 1.0, 0.0]
    assert np.allclose(m["ndcg@10"], [1.0, 0.5, 0.0])
    assert np.allclose(m["mrr@10"], [1.0, 1 / 3, 0.0])
    assert m["recall@20"].tolist() == [1.0, 1.0, 1.0]


def _frame(sizes: dict[int, int]) -> pd.DataFrame:
    rows = [(u, m, 4.0, m) for u, n in sizes.items() for m in range(1, n + 1)]
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])


def test_random_per_user_split_is_seeded_stratified_and_order_free() -> None:
    ratings = _frame({1: 20, 2: 8, 3: 3})
    a = splits.random_per_user(ratings, 0.25, seed=5)
    b = splits.random_per_user(ratings.sample(frac=1, random_state=1), 0.25, seed=5)
    pd.testing.assert_frame_equal(a.test, b.test)
    assert a.test.groupby("user_id").size().to_dict() == {1: 5, 2: 2}  # user 3: too few
    assert len(a.train) + len(a.test) == len(ratings)
    keys = set(zip(a.train.user_id, a.train.movie_id, strict=True))
    assert not keys & set(zip(a.test.user_id, a.test.movie_id, strict=True))
    other = splits.random_per_user(ratings, 0.25, seed=6)
    assert set(other.test.movie_id[other.test.user_id == 1]) != set(
        a.test.movie_id[a.test.user_id == 1]
    )


def test_bootstrap_interval_contains_mean_and_is_seeded() -> None:
    values = np.random.default_rng(0).random(400)
    lo, hi = stats.bootstrap_ci(values, seed=3)
    assert lo < values.mean() < hi and hi - lo < 0.1
    assert stats.bootstrap_ci(values, seed=3) == (lo, hi)
    narrow = stats.bootstrap_ci(np.tile(values, 16), seed=3)
    assert narrow[1] - narrow[0] < (hi - lo) / 2
    summary = stats.summarize({"m": values})
    assert summary["m"]["n_users"] == 400 and summary["m"]["ci95"][0] < summary["m"]["mean"]


def test_paired_comparison_detects_a_real_difference_and_not_a_null_one() -> None:
    rng = np.random.default_rng(1)
    b = rng.random(300)
    better = stats.paired_comparison(b + 0.05 + rng.normal(0, 0.01, 300), b)
    assert better["ci95"][0] > 0 and better["p_wilcoxon"] < 1e-6 and better["ratio"] > 1
    assert better["p_bootstrap_not_better"] == 0.0
    same = stats.paired_comparison(b, b)
    assert same["mean_diff"] == 0.0 and same["p_wilcoxon"] == 1.0
    with pytest.raises(ValueError):
        stats.paired_comparison(b, b[:10])


def test_clean_lists_drops_history_repeats_and_out_of_range() -> None:
    history = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]], dtype=np.float32))
    out = clean_lists(np.array([[0, 2, 2, 9, 3], [4, 1, -1, 0, 2]]), history, 3)
    assert out.tolist() == [[2, 3, -1], [1, 0, 2]]
    with pytest.raises(ValueError):
        clean_lists(np.zeros((3, 2)), history, 2)


def test_model_ranker_agrees_with_full_ranking(tiny: TrainData) -> None:
    split = splits.leave_last_out(tiny.ratings)
    train = TrainData(split.train, users=tiny.user_map, items=tiny.item_map)
    hist = train.ordered_matrix()
    model = ItemKNN(neighbours=20).fit(train)
    exact = protocols.full_ranking_per_user(model, hist, split.validation)
    lists = protocols.leave_last_out_lists(
        ModelRanker(model), hist, split.validation, tiny.user_map, tiny.item_map
    )
    assert (exact.users == lists.users).all()
    assert np.allclose(exact.values["hr@10"], lists.values["hr@10"])
    assert exact.means()["ndcg@10"] == pytest.approx(lists.means()["ndcg@10"], abs=0.02)


def test_random_holdout_and_candidate_recall_on_real_models(tiny: TrainData) -> None:
    split = splits.random_per_user(tiny.ratings, 0.25, seed=1)
    train = TrainData(split.train, users=tiny.user_map, items=tiny.item_map)
    hist = train.ordered_matrix()
    args = (hist, split.test, tiny.user_map, tiny.item_map)
    knn = protocols.random_holdout(ModelRanker(ItemKNN(neighbours=20).fit(train)), *args)
    pop = protocols.random_holdout(ModelRanker(Popularity().fit(train)), *args)
    assert len(knn.users) == tiny.ratings.user_id.nunique()
    assert set(knn.values) == {"ndcg@10", "precision@10", "recall@10", "map@10"}
    for v in knn.values.values():
        assert ((v >= 0) & (v <= 1)).all()
    assert knn.means()["ndcg@10"] > pop.means()["ndcg@10"] + 0.1  # planted groups
    # every unseen item is a candidate with n >= catalogue size: recall is exactly 1
    rec = protocols.candidate_recall(ModelRanker(Popularity().fit(train)), *args, ns=(5, 40))
    assert rec.values["recall@40"].min() == 1.0
    assert (rec.values["recall@5"] <= rec.values["recall@40"]).all()


def test_select_uses_both_protocols() -> None:
    grid = [{"a": 0.10, "b": 0.20}, {"a": 0.09, "b": 0.40}, {"a": 0.11, "b": 0.10}]
    best, rel = select(grid)
    assert best == 1 and rel[1] == pytest.approx((0.09 / 0.11 + 1.0) / 2)


class Broken:
    """A real ranker whose fit step raises, like a pipeline with a missing artifact."""

    def __init__(self, train: TrainData) -> None:
        raise RuntimeError("no candidates artifact")


def test_evaluate_ranker_entry_intervals_paired_and_failures(tiny: TrainData, tmp_path) -> None:
    grids = {
        "popularity": [Popularity],
        "item2item": [lambda: ItemKNN(neighbours=5), lambda: ItemKNN(neighbours=20)],
        "broken_model": [lambda: ItemKNN(neighbours=-1)],
    }
    rankers = {"served": model_factory(lambda: ItemKNN(neighbours=20)), "broken": Broken}
    result = evaluate(
        tiny,
        dataset="tiny",
        out=tmp_path,
        grids=grids,
        rankers=rankers,
        progress=False,
        n_boot=200,
        rating_models=False,
    )
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert set(on_disk["errors"]) == {"broken_model", "broken"}
    assert "no candidates artifact" in on_disk["errors"]["broken"]
    for name in ("leave_last_out", "random_75_25"):
        section = on_disk["protocols"][name]
        assert set(section["test"]) == {"popularity", "item2item", "served"}
        cell = section["test"]["served"]["ndcg@10"]
        assert cell["ci95"][0] <= cell["mean"] <= cell["ci95"][1]
        assert section["best_single"] == "item2item"
        assert set(section["paired"]) == {"popularity", "served"}
        assert section["paired"]["popularity"]["ndcg@10"]["mean_diff"] < 0
        assert {"recall@100", "recall@300"} == set(section["candidate_recall"]["served"])
    assert len(on_disk["grid"]["item2item"]) == 2
    assert sum(r["selected"] for r in on_disk["grid"]["item2item"]) == 1
    assert (
        "served" in result["models"] and "## random_75_25" in (tmp_path / "metrics.md").read_text()
    )


def test_ml100k_style_keeps_most_rated_items_and_active_users() -> None:
    ratings = _frame({1: 30, 2: 25, 3: 5})  # movie m is rated by every user with >= m rows
    small = splits.ml100k_style(ratings, n_items=10, min_user=20)
    assert small.empty  # nobody keeps 20 ratings among the 10 most-rated movies
    small = splits.ml100k_style(ratings, n_items=10, min_user=5)
    assert set(small.movie_id) == set(range(1, 11)) and set(small.user_id) == {1, 2, 3}
    small = splits.ml100k_style(ratings, n_items=26, min_user=20)
    assert set(small.user_id) == {1, 2} and small.movie_id.max() == 26


def test_heartbeat_reports_while_a_long_step_runs(capsys) -> None:
    import time

    from kryptonite.pipeline.evaluate import heartbeat

    with heartbeat("fitting slow model", True, every=0.05):
        time.sleep(0.3)
    beats = capsys.readouterr().err.count("evaluate: fitting slow model ...")
    assert beats >= 3
    with heartbeat("quiet", False, every=0.01):
        time.sleep(0.05)
    assert "quiet" not in capsys.readouterr().err


def test_id_helpers_round_trip_through_a_movie_id_ranker(tiny: TrainData) -> None:
    from kryptonite.models.evaluation.scorers import history_movie_ids, lists_to_indices

    split = splits.leave_last_out(tiny.ratings)
    train = TrainData(split.train, users=tiny.user_map, items=tiny.item_map)
    hist = train.ordered_matrix()
    model = ItemKNN(neighbours=20).fit(train)
    first = split.train[split.train.user_id == 1].sort_values("timestamp").movie_id.tolist()
    assert history_movie_ids(hist[[0]], tiny.item_map)[0].tolist() == first

    class ByMovieId:  # how a serving pipeline that speaks movie ids plugs in
        def rank(self, users, history, k):
            lists = [
                [m for m, _ in model.recommend(None, ids, k)]
                for ids in history_movie_ids(history, tiny.item_map)
            ]
            return lists_to_indices(lists, tiny.item_map, k)

    via_ids = protocols.leave_last_out_lists(
        ByMovieId(), hist, split.validation, tiny.user_map, tiny.item_map
    )
    direct = protocols.leave_last_out_lists(
        ModelRanker(model), hist, split.validation, tiny.user_map, tiny.item_map
    )
    assert np.allclose(via_ids.values["ndcg@10"], direct.values["ndcg@10"])
    assert lists_to_indices([[999, 2]], tiny.item_map, 3).tolist() == [
        [-1, int(tiny.item_map.index([2])[0]), -1]
    ]
