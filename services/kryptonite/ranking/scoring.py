"""Stage two: the ranker scores the candidates from stage-one features, MMR diversifies,
and each item gets the anchor that explains it (pure, sync).

The ranker (:class:`kryptonite.models.ranker.model.StageTwoRanker`) is bound to the same
stage-one models the candidates service serves and reads the request's history and list,
so known and new users go through one code path and fresh list adds and ratings count at
once. The anchor of an item is the history movie contributing most to its item-item
similarity (the regression and neighbour scores the ranker reads); low-rated movies are
never anchors. Diversity is MMR over the MF item vectors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kryptonite.models.base import Recommender
from kryptonite.models.ncf.model import NCF
from kryptonite.models.ranker.features import FeatureModels, UserQuery, ridge_anchor
from kryptonite.models.ranker.model import StageTwoRanker
from kryptonite.rpc.generated.v1 import common_pb2

MODEL_TYPES = ("ranker", "ncf", "item_ridge", "item2item", "mf_implicit", "content", "popularity")
#: RankRequest.model values (proto ``RankModel``).
STAGE_TWO, NEUMF = 1, 2


@dataclass(frozen=True)
class RankingModel:
    """The ranking service's bundle: the bound ranker, NeuMF (the "neural picks" row)
    and normalised item vectors (MMR)."""

    ranker: StageTwoRanker
    ncf: NCF | None  # None only offline (the evaluation of the blend needs no NeuMF)
    item_vecs: np.ndarray

    @property
    def features(self) -> FeatureModels:
        assert self.ranker.fm is not None
        return self.ranker.fm


def build_ranking(models: Mapping[str, Recommender]) -> RankingModel:
    """Bind the ranker to the loaded stage-one models; warm it up before it serves."""
    from kryptonite.serving.stage1 import feature_models

    ranker = models["ranker"]
    assert isinstance(ranker, StageTwoRanker)
    ranker.bind(feature_models(models))
    mf = models["mf_implicit"]
    vecs = np.asarray(mf.item_vectors(), np.float32)
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    ncf = models.get("ncf")
    assert ncf is None or isinstance(ncf, NCF)
    model = RankingModel(ranker, ncf, vecs)
    warm_up(model)
    return model


def warm_up(model: RankingModel, batch: int = 300) -> None:
    """Score one batch before the model serves: torch's first passes are slow, and they
    must not land on a client's deadline."""
    items = model.features.items.ids[:batch]
    if len(items) == 0:
        return
    query = RankQuery(
        user_id=0,
        movie_ids=items,
        retrieval_scores=np.zeros(len(items), np.float32),
        sources=np.zeros(len(items), np.int64),
        limit=min(50, len(items)),
        diversity=0.1,
        recent=(),
        listed=(int(items[0]),),
    )
    for which in (STAGE_TWO, NEUMF) if model.ncf is not None else (STAGE_TWO,):
        rank(model, RankQuery(**{**query.__dict__, "model": which}))


@dataclass(frozen=True)
class RankQuery:
    user_id: int
    movie_ids: np.ndarray  # deduplicated, request order
    retrieval_scores: np.ndarray
    sources: np.ndarray
    limit: int
    diversity: float
    recent: Sequence[int]  # most recent first
    listed: Sequence[int]
    low_rated: Sequence[int] = ()  # rated below the like threshold: never anchors
    model: int = STAGE_TWO

    @property
    def history(self) -> np.ndarray:
        """What the ranker reads, oldest first: recent history, then the list (latest)."""
        return np.asarray([*reversed(self.recent), *self.listed], np.int64)


@dataclass(frozen=True)
class Ranked:
    """Ranked items best first; ``fallback_reason`` empty when the ranker scored them."""

    ids: np.ndarray
    scores: np.ndarray
    sources: np.ndarray
    anchors: np.ndarray
    kinds: np.ndarray
    fallback_reason: str = ""


def relevance(model: RankingModel, q: RankQuery) -> tuple[np.ndarray, str]:
    """Scores of the candidates (the chosen model), or the retrieval scores when it knows
    nothing to score them by, with the fallback cause."""
    if q.model == NEUMF:
        return neumf_relevance(model, q)
    known = model.features.items.index(q.movie_ids) >= 0
    if not known.any():
        return q.retrieval_scores.astype(np.float32), "unknown_movies"
    if len(q.history) == 0 and (q.user_id <= 0 or model.ranker.users.index([q.user_id])[0] < 0):
        return q.retrieval_scores.astype(np.float32), "unknown_user"
    scores = model.ranker.score_candidates(
        UserQuery(q.user_id, q.history, q.movie_ids, q.sources)
    ).astype(np.float32)
    floor = float(scores[known].min()) - 1.0  # movies the models do not know go last
    return np.where(known, scores, floor).astype(np.float32), ""


def neumf_relevance(model: RankingModel, q: RankQuery) -> tuple[np.ndarray, str]:
    """NeuMF scores: a known user's trained embeddings, else a fold-in of the request's
    history and list; the retrieval scores when there is neither."""
    if model.ncf is None:
        return q.retrieval_scores.astype(np.float32), "no_neumf"
    user_id = q.user_id if q.user_id > 0 else None
    out = model.ncf.rank_items(user_id, q.movie_ids, q.history)
    if out is None:
        return q.retrieval_scores.astype(np.float32), "unknown_user"
    if np.isnan(out).all():
        return q.retrieval_scores.astype(np.float32), "unknown_movies"
    floor = np.nanmin(out) - 1.0
    return np.where(np.isnan(out), floor, out).astype(np.float32), ""


def mmr(rel: np.ndarray, vecs: np.ndarray, k: int, diversity: float) -> np.ndarray:
    """Greedy MMR: argmax (1-w) rel' - w max_sim(selected), rel' min-max scaled to [0, 1]."""
    n = len(rel)
    k = min(k, n)
    if diversity <= 0 or n == 0:
        return np.argsort(-rel, kind="stable")[:k]
    span = float(rel.max() - rel.min())
    norm = (rel - rel.min()) / span if span > 0 else np.zeros_like(rel)
    sims = vecs @ vecs.T
    max_sim = np.full(n, -np.inf)
    chosen = np.zeros(n, bool)
    order = np.empty(k, np.int64)
    for step in range(k):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        value = (1 - diversity) * norm - diversity * penalty
        value[chosen] = -np.inf
        best = int(np.argmax(value))
        order[step], chosen[best] = best, True
        max_sim = np.maximum(max_sim, sims[best])
    return order


def rank(model: RankingModel, q: RankQuery) -> Ranked:
    """Score, diversify and explain; see the module docstring."""
    rel, fallback = relevance(model, q)
    idx = model.features.items.index(q.movie_ids)
    vecs = np.where((idx >= 0)[:, None], model.item_vecs[idx.clip(0)], 0.0).astype(np.float32)
    order = mmr(rel, vecs, q.limit, q.diversity)
    ids = q.movie_ids[order]
    anchors, kinds = reasons(model, ids, q.sources[order], q)
    return Ranked(ids, rel[order], q.sources[order], anchors, kinds, fallback)


def reasons(
    model: RankingModel, ids: np.ndarray, sources: np.ndarray, q: RankQuery
) -> tuple[np.ndarray, np.ndarray]:
    """Anchor and reason kind per ranked item: the liked history movie most responsible
    for its similarity score ("because you added / watched X"), else popular (popular
    source) or personalised."""
    low = set(int(m) for m in q.low_rated)
    seeds = np.asarray([m for m in q.history if int(m) not in low], np.int64)
    anchors = ridge_anchor(model.features, seeds, ids)
    kinds = np.where(
        sources == common_pb2.CANDIDATE_SOURCE_POPULAR,
        common_pb2.REASON_KIND_POPULAR,
        common_pb2.REASON_KIND_PERSONALIZED,
    )
    listed = np.isin(anchors, np.asarray(list(q.listed), np.int64)) & (anchors > 0)
    watched = (anchors > 0) & ~listed
    kinds = np.where(listed, common_pb2.REASON_KIND_BECAUSE_LISTED, kinds)
    kinds = np.where(watched, common_pb2.REASON_KIND_BECAUSE_WATCHED, kinds)
    return anchors, kinds
