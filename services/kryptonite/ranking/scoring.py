"""Stage two: NeuMF scores for all candidates in one pass, MMR diversity, reasons (sync).

Thin adapter over :class:`kryptonite.models.ncf.model.NCF`: known users use their trained
embeddings; a user unseen at training time is folded in from the request's recent
history and list (``NCF.fold_in``); with neither, the ranking falls back to the
retrieval scores. Diversity is MMR over the model's item vectors (GMF and MLP item
embeddings, concatenated and L2-normalised), which also pick each item's anchor.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kryptonite.models.base import Recommender
from kryptonite.models.ncf.model import NCF
from kryptonite.rpc.generated.v1 import common_pb2

MODEL_TYPES = ("ncf",)
#: Cosine between a candidate and a history movie above which the latter is its anchor.
ANCHOR_MIN_SIM = 0.35


@dataclass(frozen=True)
class RankingModel:
    """The ranking service's bundle: the NCF model and its normalised item vectors."""

    ncf: NCF
    item_vecs: np.ndarray
    fold_in_lock: threading.Lock


def build_ranking(models: Mapping[str, Recommender]) -> RankingModel:
    ncf = models["ncf"]
    assert isinstance(ncf, NCF)
    items = [
        e.weight.detach().cpu().numpy()
        for n, e in ncf.module.named_children()
        if n.endswith("_item")
    ]
    vecs = np.hstack(items).astype(np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    model = RankingModel(ncf, vecs, threading.Lock())
    warm_up(model)
    return model


def warm_up(model: RankingModel, batch: int = 500) -> None:
    """Score one batch for a known and one for a folded-in user before the model serves:
    torch's first passes are slow, and they must not land on a client's deadline."""
    items = model.ncf.items.ids[:batch]
    if len(items) == 0:
        return
    known = [(int(u), ()) for u in model.ncf.users.ids[:1]]
    for user_id, listed in [*known, (-1, (int(items[0]),))]:
        rank(
            model,
            RankQuery(
                user_id=user_id,
                movie_ids=items,
                retrieval_scores=np.zeros(len(items), np.float32),
                sources=np.zeros(len(items), np.int64),
                limit=min(50, len(items)),
                diversity=0.2,
                recent=(),
                listed=listed,
            ),
        )


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


@dataclass(frozen=True)
class Ranked:
    """Ranked items best first; ``fallback_reason`` empty when NCF scored the user."""

    ids: np.ndarray
    scores: np.ndarray
    sources: np.ndarray
    anchors: np.ndarray
    kinds: np.ndarray
    fallback_reason: str = ""


def user_vectors(model: RankingModel, q: RankQuery) -> list[torch.Tensor] | None:
    """One row per NCF user table: trained, folded in, or None (no signal)."""
    ncf = model.ncf
    tables = ncf.module.user_embeddings()
    uidx = int(ncf.users.index([q.user_id])[0]) if q.user_id > 0 else -1
    if uidx >= 0:
        return [t.weight[uidx : uidx + 1].detach() for t in tables]
    history = ncf.history([*reversed(q.recent), *q.listed])
    if history.nnz == 0:
        return None
    with model.fold_in_lock:  # fold-in backpropagates through the shared module
        return ncf.fold_in(history)


def relevance(model: RankingModel, q: RankQuery) -> tuple[np.ndarray, str]:
    """Scores of the candidates (NCF, or retrieval scores on fallback) and the fallback cause."""
    ncf = model.ncf
    vecs = user_vectors(model, q)
    if vecs is None:
        return q.retrieval_scores.astype(np.float32), "unknown_user"
    idx = ncf.items.index(q.movie_ids)
    known = np.flatnonzero(idx >= 0)
    out = np.full(len(idx), np.nan, np.float32)
    if len(known):
        dev = next(ncf.module.parameters()).device
        items = torch.from_numpy(idx[known]).to(dev)
        with torch.inference_mode():
            user = [v.to(dev).expand(len(known), -1) for v in vecs]
            logits = ncf.module.forward_with(user, items).float()
            if ncf.params.task == "implicit":
                logits = torch.sigmoid(logits)
            else:
                logits = logits + ncf.rating_offset
        out[known] = logits.cpu().numpy()
    if np.isnan(out).all():
        return q.retrieval_scores.astype(np.float32), "unknown_movies"
    floor = np.nanmin(out) - 1.0  # movies the model does not know go last
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
    idx = model.ncf.items.index(q.movie_ids)
    vecs = np.where((idx >= 0)[:, None], model.item_vecs[idx.clip(0)], 0.0).astype(np.float32)
    order = mmr(rel, vecs, q.limit, q.diversity)
    anchors, kinds = reasons(model, vecs[order], q.sources[order], q)
    return Ranked(q.movie_ids[order], rel[order], q.sources[order], anchors, kinds, fallback)


def reasons(
    model: RankingModel, vecs: np.ndarray, sources: np.ndarray, q: RankQuery
) -> tuple[np.ndarray, np.ndarray]:
    """Anchor and reason kind per ranked item: the most similar listed/recent movie when
    similar enough, else popular (popular source) or personalised."""
    kinds = np.where(
        sources == common_pb2.CANDIDATE_SOURCE_POPULAR,
        common_pb2.REASON_KIND_POPULAR,
        common_pb2.REASON_KIND_PERSONALIZED,
    )
    anchors = np.zeros(len(vecs), np.int64)
    seeds = np.asarray([*q.listed, *q.recent[:50]], np.int64)
    sidx = model.ncf.items.index(seeds)
    seeds, sidx = seeds[sidx >= 0], sidx[sidx >= 0]
    if len(seeds) == 0 or len(vecs) == 0:
        return anchors, kinds
    sims = vecs @ model.item_vecs[sidx].T  # items x seeds
    best = sims.argmax(axis=1)
    strong = sims[np.arange(len(vecs)), best] >= ANCHOR_MIN_SIM
    anchors[strong] = seeds[best[strong]]
    listed = np.isin(anchors, np.asarray(list(q.listed), np.int64)) & strong
    kinds = np.where(listed, common_pb2.REASON_KIND_BECAUSE_LISTED, kinds)
    kinds = np.where(strong & ~listed, common_pb2.REASON_KIND_BECAUSE_WATCHED, kinds)
    return anchors, kinds
