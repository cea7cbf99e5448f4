"""The stage-two ranker: NCF's MLP tower over stage-one features, trained on stage one's
own candidate sets.

Training (``fit``) holds out each user's last ``holdout`` interactions, fits the stage-one
models on the rest (through the injected ``stage1`` builder, so this module stays pure
computation), asks stage one for each user's candidates exactly as serving does, and
learns to put the held-out movies first among them: a listwise softmax loss over each
candidate set, so the negatives are the hard ones stage one proposes, not random items.
At serving time the ranker is bound (``bind``) to the production stage-one models and
scores a request's candidates from the request's history, so a known user's fresh list
adds and ratings move the ranking without retraining.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from kryptonite.models import base
from kryptonite.models.data import TrainData
from kryptonite.models.popularity import Popularity
from kryptonite.models.ranker.features import (
    NAMES,
    FeatureModels,
    ItemSide,
    UserQuery,
    features,
)
from kryptonite.models.registry import register

log = logging.getLogger("kryptonite.models.ranker")

#: (user_id, history ids oldest first) -> (candidate ids, their source codes, the history
#: the ranker sees at serving time, oldest first)
CandidateFn = Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
#: Stage-one training data -> the feature models and the candidate function over them.
Stage1Builder = Callable[[TrainData], tuple[FeatureModels, CandidateFn]]


@dataclass
class RankerParams(base.Params):
    hidden: list[int] = field(default_factory=lambda: [64, 32])
    #: Most epochs; training keeps the epoch with the best loss on held-out users.
    epochs: int = 60
    #: Share of candidate sets (by user) held out to pick the epoch.
    validation: float = 0.15
    lr: float = 3e-3
    weight_decay: float = 1e-5
    #: Interactions per user held out: the ranker's positives, one candidate set per
    #: held-out step (the history grows by the earlier held-out movies, as it does
    #: between trainings at serving time).
    holdout: int = 5
    #: Positives of a step: "next" (the next movie) or "future" (every later held-out one).
    label: str = "future"
    #: Interactions per user also held out at random from the earlier history: one more
    #: candidate set per user whose positives are every held-out movie ("what else" as
    #: well as "what next"), so the ranker learns both.
    spread: int = 10
    #: Users sampled for training at most (the candidate sets are built per user).
    max_users: int = 20_000
    seed: int = 42


class Tower(nn.Module):
    """NCF's MLP tower over standardised features, beside a linear ("wide") term of the
    same features: the linear part learns fast from few users, the tower the interactions."""

    def __init__(self, n_features: int, hidden: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.wide = nn.Linear(n_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net(x) + self.wide(x)).squeeze(-1)


def holdout_split(
    ratings: pd.DataFrame, k: int, min_left: int = 2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, held out): each user's last ``k`` interactions by time (ties by movie id),
    for users keeping at least ``min_left``; others stay wholly in the rest."""
    frame = ratings.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    from_end = frame.groupby("user_id").cumcount(ascending=False).to_numpy()
    size = frame.groupby("user_id")["movie_id"].transform("size").to_numpy()
    held = (size >= k + min_left) & (from_end < k)
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)


def random_split(
    ratings: pd.DataFrame, k: int, rng: np.random.Generator, min_left: int = 2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, held out): ``k`` interactions per user drawn at random, for users keeping at
    least ``min_left``; others stay wholly in the rest."""
    if k <= 0 or ratings.empty:
        return ratings, ratings.iloc[:0]
    frame = ratings.reset_index(drop=True)
    size = frame.groupby("user_id")["movie_id"].transform("size").to_numpy()
    draw = pd.Series(rng.random(len(frame)), index=frame.index)
    pick = draw.groupby(frame["user_id"]).rank(method="first").to_numpy()
    held = (size >= k + min_left) & (pick <= k)
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)


def listwise_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """(Weighted) mean over groups of -log(sum softmax over the positives) within each
    candidate set."""
    neg_inf = torch.finfo(logits.dtype).min
    scores = logits.masked_fill(~mask, neg_inf)
    pos = scores.masked_fill(labels <= 0, neg_inf)
    per_group = torch.logsumexp(scores, dim=1) - torch.logsumexp(pos, dim=1)
    if weights is None:
        return per_group.mean()
    return (per_group * weights).sum() / weights.sum()


@register
class StageTwoRanker(base.Recommender):
    model_type = "ranker"
    Params = RankerParams
    params: RankerParams

    def __init__(
        self,
        params: base.Params | None = None,
        *,
        stage1: Stage1Builder | None = None,
        progress: Callable[[str], None] | None = None,
        **overrides,
    ) -> None:
        super().__init__(params, **overrides)
        self.stage1 = stage1
        self.progress = progress
        self.fm: FeatureModels | None = None
        #: Stage one as the ranker was trained with it (after ``fit``; not persisted):
        #: with it, ``score`` ranks each user's candidates only, as served.
        self.candidates_of: CandidateFn | None = None
        self.side: ItemSide | None = None
        self.mean = np.zeros(len(NAMES), np.float32)
        self.std = np.ones(len(NAMES), np.float32)
        self.tower = Tower(len(NAMES), self.params.hidden)

    # ------------------------------------------------------------------ training
    def _fit(self, data: TrainData) -> None:
        if self.stage1 is None:
            raise ValueError("StageTwoRanker.fit needs a stage1 builder (the candidate pipeline)")
        p = self.params
        popularity = Popularity(half_life_days=0.0).fit(data)
        self.side = ItemSide.build(self.items, data.movies, popularity)
        rest, held = holdout_split(data.ratings, p.holdout)
        rng = np.random.default_rng(p.seed)
        rest, spread = random_split(rest, p.spread, rng)
        users = np.union1d(held["user_id"].unique(), spread["user_id"].unique())
        if len(users) > p.max_users:
            users = np.sort(rng.choice(users, p.max_users, replace=False))
        stage1_data = TrainData(
            rest,
            movies=data.movies,
            tags=data.tags,
            genome_tags=data.genome_tags,
            genome_scores=data.genome_scores,
            overviews=data.overviews,
            user_lists=data.user_lists,
            users=data.user_map,
            items=data.item_map,
        )
        self._say(f"stage one on {len(rest):,} interactions")
        fm, candidates_of = self.stage1(stage1_data)
        fm = FeatureModels(fm.items, fm.ridge, fm.i2i, fm.mf, fm.content, self.side)
        groups = self._groups(fm, candidates_of, rest, held, spread, users)
        self._train(groups)
        self.fm = fm  # usable at once; serving binds it to the production models
        self.candidates_of = candidates_of

    def _say(self, text: str) -> None:
        log.info("ranker: %s", text)
        if self.progress is not None:
            self.progress(text)

    def _groups(self, fm, candidates_of, rest, held, spread, users) -> list:
        """(user, features, labels, weight) per candidate set that holds a positive: one per
        held-out step ("what next") and one over every held-out movie ("what else")."""
        order = ["user_id", "timestamp", "movie_id"]

        def by_user(frame: pd.DataFrame) -> dict[int, np.ndarray]:
            frame = frame.sort_values(order, kind="stable")
            return {int(u): g.to_numpy(np.int64) for u, g in frame.groupby("user_id")["movie_id"]}

        before, future, scattered = by_user(rest), by_user(held), by_user(spread)
        none = np.empty(0, np.int64)
        out, tried = [], 0
        for n, user in enumerate(users, start=1):
            past, later = before.get(int(user), none), future.get(int(user), none)
            sets = []
            for step in range(len(later)):
                nxt = later[step : step + 1] if self.params.label == "next" else later[step:]
                sets.append((np.concatenate([past, later[:step]]), nxt, 1.0))
            if int(user) in scattered:  # weighs as much as all "what next" sets together
                everything = np.concatenate([scattered[int(user)], later])
                sets.append((past, everything, float(max(len(later), 1))))
            for history, positives, weight in sets:
                ids, sources, seen_by_ranker = candidates_of(int(user), history)
                labels = np.isin(ids, positives).astype(np.float32)
                tried += 1
                if labels.sum() == 0:
                    continue
                x = features(fm, UserQuery(int(user), seen_by_ranker, ids, sources))
                out.append((int(user), x, labels, weight))
            if n % 100 == 0 or n == len(users):
                self._say(f"candidate sets: {n:,}/{len(users):,} users")
        self._say(f"{len(out):,} of {tried:,} candidate sets hold their positive")
        return out

    def _train(self, groups: list[tuple[int, np.ndarray, np.ndarray, float]]) -> None:
        p = self.params
        torch.manual_seed(p.seed)
        if not groups:
            raise ValueError("no user's held-out movie was among the stage-one candidates")
        stacked = np.concatenate([x for _, x, _, _ in groups])
        self.mean = stacked.mean(axis=0).astype(np.float32)
        self.std = np.maximum(stacked.std(axis=0), 1e-6).astype(np.float32)
        xs, ys, ms = self._pad(groups)
        ws = torch.tensor([w for *_, w in groups], dtype=torch.float32)
        users = np.unique([g[0] for g in groups])
        rng = np.random.default_rng(p.seed)
        held = set(rng.choice(users, int(len(users) * p.validation), replace=False).tolist())
        val = torch.from_numpy(np.asarray([g[0] in held for g in groups]))
        train_idx = torch.nonzero(~val).flatten()
        val_idx = torch.nonzero(val).flatten()
        self.tower = Tower(len(NAMES), p.hidden)
        opt = torch.optim.Adam(self.tower.parameters(), lr=p.lr, weight_decay=p.weight_decay)
        gen = torch.Generator().manual_seed(p.seed)
        best, best_state, batch = float("inf"), None, 64
        for epoch in range(p.epochs):
            self.tower.train()
            order = train_idx[torch.randperm(len(train_idx), generator=gen)]
            for lo in range(0, len(order), batch):
                idx = order[lo : lo + batch]
                loss = listwise_loss(self.tower(xs[idx]), ys[idx], ms[idx], ws[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            self.tower.eval()
            with torch.no_grad():
                check = val_idx if len(val_idx) else train_idx
                score = float(listwise_loss(self.tower(xs[check]), ys[check], ms[check], ws[check]))
            if score < best:
                best, best_state = score, copy.deepcopy(self.tower.state_dict())
            if (epoch + 1) % 10 == 0 or epoch == p.epochs - 1:
                self._say(f"epoch {epoch + 1}/{p.epochs}: held-out loss {score:.4f}")
        if best_state is not None:
            self.tower.load_state_dict(best_state)
        self.tower.eval()
        self._say(f"kept the epoch with held-out loss {best:.4f}")

    def _pad(self, groups) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Candidate sets as (groups x width x features), labels and masks."""
        width = max(len(g[1]) for g in groups)
        g = len(groups)
        x_all = np.zeros((g, width, len(NAMES)), np.float32)
        y_all = np.zeros((g, width), np.float32)
        m_all = np.zeros((g, width), bool)
        for i, (_, x, y, _) in enumerate(groups):
            x_all[i, : len(x)] = (x - self.mean) / self.std
            y_all[i, : len(y)] = y
            m_all[i, : len(y)] = True
        return torch.from_numpy(x_all), torch.from_numpy(y_all), torch.from_numpy(m_all)

    # ------------------------------------------------------------------ serving
    def bind(self, fm: FeatureModels, candidates_of: CandidateFn | None = None) -> StageTwoRanker:
        """Read features from ``fm`` (the production stage-one models) from now on; with
        ``candidates_of`` (stage one over the same models), ``score`` ranks candidates only."""
        if self.side is None:
            raise ValueError("ranker has no item side data (not fitted or loaded)")
        if not np.array_equal(fm.items.ids, self.items.ids):
            side = _realign(self.side, self.items, fm.items)
        else:
            side = self.side
        self.fm = FeatureModels(fm.items, fm.ridge, fm.i2i, fm.mf, fm.content, side)
        self.candidates_of = candidates_of
        return self

    def score_candidates(self, q: UserQuery) -> np.ndarray:
        """One score per candidate of ``q`` (higher = first)."""
        if self.fm is None:
            raise ValueError("ranker is not bound to stage-one models (call bind)")
        if len(q.candidates) == 0:
            return np.empty(0, np.float32)
        x = (features(self.fm, q) - self.mean) / self.std
        with torch.inference_mode():
            return self.tower(torch.from_numpy(x.astype(np.float32))).numpy()

    def prepare_history(self, ordered: sp.csr_matrix) -> sp.csr_matrix:
        return ordered.tocsr().astype(np.float32)  # keep the order: features need it

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Scores over the catalog for evaluation: with stage one at hand
        (``candidates_of``), each user's candidates are scored as served and every other
        item is -inf; without it, every item is a candidate (the ranker alone)."""
        assert self.fm is not None, "bind the ranker before scoring"
        all_ids = self.fm.items.ids
        out = np.full((len(users), len(all_ids)), -np.inf, np.float32)
        everything = np.zeros(len(all_ids), np.int64)
        for row in range(len(users)):
            lo, hi = history.indptr[row], history.indptr[row + 1]
            idx, order = history.indices[lo:hi], history.data[lo:hi]
            hist_ids = all_ids[idx[np.argsort(-order, kind="stable")]]
            uid = int(self.users.ids[users[row]]) if users[row] >= 0 else 0
            if self.candidates_of is None:
                q = UserQuery(uid, hist_ids, all_ids, everything)
                out[row] = self.score_candidates(q)
                continue
            ids, sources, seen = self.candidates_of(uid, hist_ids)
            at = self.fm.items.index(ids)
            ok = at >= 0
            out[row, at[ok]] = self.score_candidates(UserQuery(uid, seen, ids, sources))[ok]
        return out

    # ------------------------------------------------------------------ persistence
    def _arrays(self) -> dict[str, np.ndarray]:
        assert self.side is not None
        weights = {f"w_{k}": v.detach().cpu().numpy() for k, v in self.tower.state_dict().items()}
        return {"mean": self.mean, "std": self.std, **weights, **self.side.arrays()}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.mean, self.std = arrays["mean"], arrays["std"]
        self.side = ItemSide.from_arrays(arrays)
        self.tower = Tower(len(NAMES), self.params.hidden)
        state = {k[2:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("w_")}
        self.tower.load_state_dict(state)
        self.tower.eval()


def _realign(side: ItemSide, source, target) -> ItemSide:
    """Item side data re-indexed onto another item index (unknown items: neutral values)."""
    idx = source.index(target.ids)
    ok = idx >= 0
    genres = side.genres[idx.clip(0)].tolil()
    for row in np.flatnonzero(~ok):
        genres.rows[row], genres.data[row] = [], []
    year = np.where(ok, side.year[idx.clip(0)], np.nan).astype(np.float32)
    log_pop = np.where(ok, side.log_pop[idx.clip(0)], 0.0).astype(np.float32)
    pct = np.where(ok, side.pop_pct[idx.clip(0)], 0.0).astype(np.float32)
    return ItemSide(genres.tocsr(), year, log_pop, pct)
