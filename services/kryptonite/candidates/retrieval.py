"""Candidate retrieval: four sources, per-source quotas, dedupe, exclusions (pure, sync).

Sources: implicit-MF user vector → ANN over item vectors (a user unseen at training time
is folded in from the request's history), item-to-item neighbours of the recent history
(or of the personal list when there is no history yet), content neighbours of the
personal list (or of the recent history when the list is empty), and popularity. Each
source is asked for more than its quota; the merge takes each source's quota in turn,
skipping movies already taken, then fills what is left from the sources' surplus. The
merged list is interleaved by rank within source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from kryptonite.candidates.ann import AnnIndex
from kryptonite.models.base import Recommender
from kryptonite.models.content import ContentModel
from kryptonite.models.item2item import ItemKNN, ItemRidge
from kryptonite.models.mf import ImplicitMF
from kryptonite.models.popularity import Popularity
from kryptonite.rpc.generated.v1 import common_pb2
from kryptonite.serving.hits import Hits, blocked_mask, top_hits
from kryptonite.serving.similarity import recommend_for_movies

MF = common_pb2.CANDIDATE_SOURCE_MF
ITEM2ITEM = common_pb2.CANDIDATE_SOURCE_ITEM2ITEM
CONTENT = common_pb2.CANDIDATE_SOURCE_CONTENT
POPULAR = common_pb2.CANDIDATE_SOURCE_POPULAR
RIDGE = common_pb2.CANDIDATE_SOURCE_ITEM_RIDGE
SOURCES = (RIDGE, MF, ITEM2ITEM, CONTENT, POPULAR)
#: Default share of the total limit per source (also the share when a quota is 0).
#: Read by the served pipeline's settings (``kryptonite.serving.config``).
DEFAULT_SHARES = {RIDGE: 0.3, MF: 0.25, ITEM2ITEM: 0.15, CONTENT: 0.15, POPULAR: 0.15}
REASONS = {
    MF: common_pb2.REASON_KIND_PERSONALIZED,
    ITEM2ITEM: common_pb2.REASON_KIND_BECAUSE_WATCHED,
    RIDGE: common_pb2.REASON_KIND_BECAUSE_WATCHED,
    POPULAR: common_pb2.REASON_KIND_POPULAR,
}
MAX_SEEDS = 50  # most recent movies used as item-to-item / content seeds
OVERFETCH = 2  # each source is asked for quota x OVERFETCH (dedupe across sources)
MODEL_TYPES = ("mf_implicit", "item2item", "item_ridge", "content", "popularity")


@dataclass(frozen=True)
class CandidateModels:
    """The candidates service's bundle: the five models and the ANN index."""

    mf: ImplicitMF
    ann: AnnIndex
    item2item: ItemKNN
    content: ContentModel
    popularity: Popularity
    ridge: ItemRidge


def build_models(models: Mapping[str, Recommender], *, sample_users: int = 300) -> CandidateModels:
    """Bundle the loaded models and build the ANN index (tuned on trained user vectors)."""
    mf = models["mf_implicit"]
    assert isinstance(mf, ImplicitMF)
    rng = np.random.default_rng(0)
    picked = rng.choice(len(mf.users), min(sample_users, len(mf.users)), replace=False)
    sample = (
        np.stack([mf.user_vector(int(u)) for u in mf.users.ids[picked]]) if len(picked) else None
    )
    return CandidateModels(
        mf=mf,
        ann=AnnIndex(mf.item_vectors(), sample_queries=sample),
        item2item=models["item2item"],  # type: ignore[arg-type]
        content=models["content"],  # type: ignore[arg-type]
        popularity=models["popularity"],  # type: ignore[arg-type]
        ridge=models["item_ridge"],  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Query:
    """A validated request: ``recent`` most recent first; ``quotas`` per source."""

    user_id: int
    recent: Sequence[int]
    listed: Sequence[int]
    limit: int
    quotas: Mapping[int, int]
    exclude: Sequence[int] = field(default_factory=list)


@dataclass(frozen=True)
class Candidate:
    movie_id: int
    score: float
    source: int
    anchor: int
    kind: int


def quotas_for(limit: int, requested: Mapping[int, int]) -> dict[int, int]:
    """Per-source quotas: explicit ones kept, 0 (or no request) = share of ``limit``."""
    wanted = requested or dict.fromkeys(SOURCES, 0)
    total = sum(DEFAULT_SHARES[s] for s in wanted)
    return {
        s: q if q > 0 else max(1, round(limit * DEFAULT_SHARES[s] / total))
        for s, q in wanted.items()
    }


def is_cold(models: CandidateModels, user_id: int) -> bool:
    return user_id <= 0 or models.mf.users.index([user_id])[0] < 0


def retrieve(models: CandidateModels, q: Query) -> list[Candidate]:
    """Merged, deduplicated candidates, at most ``q.limit``."""
    seen = [*q.recent, *q.listed, *q.exclude]
    fetch = {
        MF: lambda n: _mf(models, q, seen, n),
        ITEM2ITEM: lambda n: _item2item(models.item2item, q, seen, n),
        CONTENT: lambda n: _content(models.content, q, seen, n),
        POPULAR: lambda n: _popular(models.popularity, seen, n),
        RIDGE: lambda n: _ridge(models.ridge, q, seen, n),
    }
    # popularity is the filler: it can always make up what the other sources lack
    want = {
        s: quota * OVERFETCH if s != POPULAR else q.limit + quota for s, quota in q.quotas.items()
    }
    lists = {s: fetch[s](want[s]) for s in q.quotas}
    return merge(lists, q.quotas, q.limit)


#: One source's hits and the reason kind of all of them.
Sourced = tuple[Hits, int]
NOTHING: Sourced = (Hits.empty(), common_pb2.REASON_KIND_UNSPECIFIED)


def merge(lists: Mapping[int, Sourced], quotas: Mapping[int, int], limit: int) -> list[Candidate]:
    """Quota pass then surplus pass, deduplicated; ordered by rank within source / quota,
    so every source's quota movies come before any surplus movie."""
    taken: dict[int, tuple[float, int, int]] = {}  # movie -> (order key, source, position)
    cursor = dict.fromkeys(lists, 0)
    count = dict.fromkeys(lists, 0)
    ids = {source: hits.ids.tolist() for source, (hits, _) in lists.items()}
    for surplus in (False, True):
        for source in lists:
            quota, mine = quotas[source], ids[source]
            while cursor[source] < len(mine) and len(taken) < limit:
                if not surplus and count[source] >= quota:
                    break
                pos = cursor[source]
                cursor[source] += 1
                if mine[pos] not in taken:
                    # quota movies key below 1, surplus movies from 1 on (quota 0: all)
                    key = count[source] / quota if quota > 0 else 1.0 + count[source]
                    taken[mine[pos]] = (key, source, pos)
                    count[source] += 1
    out = []
    for movie, (_, source, pos) in sorted(taken.items(), key=lambda t: t[1][0]):
        hits, kind = lists[source]
        out.append(Candidate(movie, float(hits.scores[pos]), source, int(hits.anchors[pos]), kind))
    return out


def user_vector(models: CandidateModels, q: Query) -> np.ndarray | None:
    """Trained vector of a known user, else fold-in from recent + list; None without either."""
    user_id = q.user_id if q.user_id > 0 else None
    return models.mf.user_vector(user_id, [*reversed(q.recent), *q.listed])  # oldest first


def _mf(models: CandidateModels, q: Query, seen: Sequence[int], n: int) -> Sourced:
    vec = user_vector(models, q)
    if vec is None:
        return NOTHING
    blocked = blocked_mask(models.mf.items, seen)
    idx, scores = models.ann.search(vec[None, :], n + int(blocked.sum()))
    keep = (idx[0] >= 0) & ~blocked[idx[0].clip(0)]
    idx, scores = idx[0][keep][:n], scores[0][keep][:n]
    hits = Hits(models.mf.items.ids[idx], scores, np.zeros(len(idx), np.int64))
    return hits, REASONS[MF]


def _item2item(model: ItemKNN, q: Query, seen: Sequence[int], n: int) -> Sourced:
    if q.recent:
        recent, kind = q.recent, REASONS[ITEM2ITEM]
    else:  # a list-only user: "people who liked the movies you added also liked"
        recent, kind = q.listed, common_pb2.REASON_KIND_BECAUSE_LISTED
    seeds = np.asarray(list(recent)[:MAX_SEEDS], np.int64)
    idx = model.items.index(seeds)
    rank = np.flatnonzero(idx >= 0)
    if len(rank) == 0:
        return NOTHING
    half_life = float(model.params.recency_half_life or 0.0) or 3.0
    weights = (0.5 ** (rank / half_life)).astype(np.float32)
    rows = model.item_similarity(seeds[rank]) * weights[:, None]  # seeds x every item
    top = top_hits(rows.sum(axis=0), model.items, n, blocked_mask(model.items, seen))
    top = top[rows[:, top].max(axis=0) > 0] if len(top) else top
    anchors = seeds[rank][rows[:, top].argmax(axis=0)] if len(top) else np.empty(0, np.int64)
    hits = Hits(model.items.ids[top], rows[:, top].sum(axis=0).astype(np.float32), anchors)
    return hits, kind


def _ridge(model: ItemRidge, q: Query, seen: Sequence[int], n: int) -> Sourced:
    """Item-item regression scores, two views interleaved: the recent history with the most
    recent weighing most ("what next") and every movie alike ("what else"); the list
    counts as the latest interactions. Scores are the recency-weighted ones."""
    history = [*reversed(q.recent), *q.listed]  # oldest first
    if not history:
        return NOTHING
    one = np.array([-1])
    recent = model.score(one, model.history(history))[0]
    flat = model.score(one, model.history(history, [1.0] * len(history)))[0]
    blocked = blocked_mask(model.items, seen)
    views = [top_hits(v, model.items, n, blocked) for v in (recent, flat)]
    views = [top[v[top] > 0] for top, v in zip(views, (recent, flat), strict=True)]
    top = _interleave(views, n)
    return Hits(model.items.ids[top], recent[top], np.zeros(len(top), np.int64)), REASONS[RIDGE]


def _interleave(lists: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Round-robin over ranked index lists, first occurrence kept, at most ``n``."""
    out: dict[int, None] = {}
    for rank in range(max((len(x) for x in lists), default=0)):
        for x in lists:
            if rank < len(x):
                out.setdefault(int(x[rank]), None)
        if len(out) >= n:
            break
    return np.fromiter(out, np.int64, len(out))[:n]


def _content(model: ContentModel, q: Query, seen: Sequence[int], n: int) -> Sourced:
    if q.listed:
        seeds, kind = list(q.listed)[:MAX_SEEDS], common_pb2.REASON_KIND_BECAUSE_LISTED
    else:
        seeds, kind = list(q.recent)[:MAX_SEEDS], common_pb2.REASON_KIND_BECAUSE_WATCHED
    if not seeds:
        return NOTHING
    return recommend_for_movies(model, seeds, n, seen), kind


def _popular(model: Popularity, seen: Sequence[int], n: int) -> Sourced:
    top = top_hits(model.item_scores, model.items, n, blocked_mask(model.items, seen))
    hits = Hits(model.items.ids[top], model.item_scores[top], np.zeros(len(top), np.int64))
    return hits, REASONS[POPULAR]
