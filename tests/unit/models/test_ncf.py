"""NCF reproduces the paper's shape on planted data; negative sampling is exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from kryptonite.models.data import IdMap, TrainData
from kryptonite.models.evaluation import protocols, splits
from kryptonite.models.ncf import data as ncf_data
from kryptonite.models.ncf.model import NCF
from kryptonite.models.ncf.module import NeuMF


def grouped(n_users: int = 300, groups: int = 10, size: int = 20, per_user: int = 14):
    """Each user draws ``per_user`` of the ``size`` movies of one of ``groups`` groups."""
    rng = np.random.default_rng(1)
    rows = []
    for user in range(n_users):
        g = user % groups
        for t, m in enumerate(rng.choice(size, per_user, replace=False)):
            rows.append((user + 1, int(g * size + m + 1), 4.0, t))
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])


def test_negatives_are_never_positives(tiny: TrainData) -> None:
    pos = tiny.implicit_matrix()
    users = np.repeat(np.arange(pos.shape[0]), 3)
    neg = ncf_data.sample_negatives(pos, users, 4, np.random.default_rng(0))
    assert len(neg) == len(users) * 4
    assert not np.asarray(pos[np.repeat(users, 4), neg]).any()


def test_module_kinds_forward() -> None:
    u, i = torch.tensor([0, 1]), torch.tensor([2, 3])
    for kind in ("gmf", "mlp", "neumf"):
        assert NeuMF(3, 5, 4, (8, 4), kind)(u, i).shape == (2,)


def test_neumf_recovers_held_out_items_far_above_chance() -> None:
    ratings = grouped()
    split = splits.leave_last_out(ratings)
    users = IdMap.from_ids(ratings.user_id.to_numpy())
    items = IdMap.from_ids(ratings.movie_id.to_numpy())
    train = TrainData(split.train_val, users=users, items=items)
    model = NCF(factors=8, layers=[16, 8], epochs=6, batch_size=512, lr=5e-3, threads=1)
    model.fit(train)
    full = protocols.full_ranking(model, train.ordered_matrix(), split.test)
    chance = 10 / (len(items) - 13)  # 10 of ~187 unseen items
    assert full["hr@10"] > 8 * chance, full
    sampled = protocols.sampled_ranking(model, train.ordered_matrix(), split.test, negatives=99)
    assert sampled["hr@10"] > 0.6, sampled  # chance: 0.10
    assert model.stats is not None and model.stats.samples_per_second > 0


def test_unknown_user_is_scored_from_history_only(tiny: TrainData) -> None:
    model = NCF(factors=4, layers=[8, 4], epochs=1, threads=1).fit(tiny)
    assert (model.score_items(None, [1, 2]) == 0).all()  # nothing known: no preference
    scores = model.score_items(None, [1, 2, 999], history_ids=[1, 3])
    assert np.isnan(scores[2]) and np.isfinite(scores[:2]).all() and scores[:2].any()


def test_each_training_epoch_is_reported(tiny: TrainData) -> None:
    model = NCF(factors=4, layers=[8, 4], epochs=3, threads=1)
    seen: list[tuple[int, int, float]] = []
    model.on_epoch = lambda epoch, epochs, loss: seen.append((epoch, epochs, loss))
    model.fit(tiny)
    assert [(e, n) for e, n, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert all(np.isfinite(loss) and loss > 0 for _, _, loss in seen)
