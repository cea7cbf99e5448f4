"""``kryptonite precompute``: every user's lists of one shard, in vectorized batches.

Models are loaded once from the artifact store and score a whole batch of users in one
call (users x items matrices), never one RPC per user. Each list goes to
``user_recommendations`` (replacing the user's previous rows of that model type) and to
the cache under the key the gateway reads (user x strategy x model version), in the
gateway's response shape. Users are split by ``user_id % shards`` (a Kubernetes Indexed
Job runs shard ``i`` = ``JOB_COMPLETION_INDEX``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Engine, delete, insert, select, union_all

from kryptonite.config import Settings
from kryptonite.gateway import versions
from kryptonite.gateway.schemas import RecItem, RecList, Strategy
from kryptonite.models.base import Recommender, top_n
from kryptonite.models.data import history_matrix
from kryptonite.store.cache import Cache, CacheError, create_cache
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.tables import (
    genres,
    movie_genres,
    movies,
    rating_implicit,
    user_movielist,
    user_recommendations,
    users,
)

log = logging.getLogger("kryptonite.precompute")

#: strategy -> (artifact model type, model_type row of user_recommendations, source)
SINGLE = {
    Strategy.popular: ("popularity", "popularity", "popular"),
    Strategy.content: ("content", "content", "content"),
    Strategy.cf: ("mf_implicit", "mf_implicit", "mf"),
    Strategy.item2item: ("item2item", "item2item", "item2item"),
    Strategy.ncf: ("ncf", "ncf_implicit", "ncf"),
}
REASONS = {"popular": "Popular right now"}


@dataclass
class PrecomputeResult:
    shard: int
    shards: int
    users: int = 0
    lists: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    cache_errors: int = 0
    seconds: float = 0.0


def shard_users(engine: Engine, shard: int, shards: int) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(users.c.user_id)
            .where(users.c.user_id % shards == shard)
            .order_by(users.c.user_id)
        )
        return [int(r.user_id) for r in rows]


def histories(engine: Engine, user_ids: list[int]) -> dict[int, list[int]]:
    """Each user's interacted + listed movies, oldest first."""
    events = select(
        rating_implicit.c.user_id, rating_implicit.c.movie_id, rating_implicit.c.last_at.label("at")
    ).where(rating_implicit.c.user_id.in_(user_ids))
    listed = select(
        user_movielist.c.user_id, user_movielist.c.movie_id, user_movielist.c.added_at.label("at")
    ).where(user_movielist.c.user_id.in_(user_ids))
    both = union_all(events, listed).subquery()
    out: dict[int, list[int]] = {u: [] for u in user_ids}
    with engine.connect() as conn:
        rows = conn.execute(
            select(both.c.user_id, both.c.movie_id).order_by(
                both.c.user_id, both.c.at, both.c.movie_id
            )
        )
        for user_id, movie_id in rows:
            out[int(user_id)].append(int(movie_id))
    return {u: list(dict.fromkeys(reversed(h)))[::-1] for u, h in out.items()}


def movie_cards(engine: Engine) -> dict[int, dict]:
    with engine.connect() as conn:
        cards = {
            int(r.movie_id): {"movie_id": int(r.movie_id), "title": r.title, "year": r.year}
            for r in conn.execute(select(movies.c.movie_id, movies.c.title, movies.c.year))
        }
        for movie_id, name in conn.execute(
            select(movie_genres.c.movie_id, genres.c.name)
            .join(genres, genres.c.genre_id == movie_genres.c.genre_id)
            .order_by(movie_genres.c.movie_id, genres.c.name)
        ):
            cards[int(movie_id)].setdefault("genres", []).append(name)
    return cards


def batch_scores(
    model: Recommender, user_ids: list[int], hists: list[list[int]]
) -> tuple[np.ndarray, sp.csr_matrix]:
    """(users x items scores with seen items at -inf, the seen matrix) for a batch."""
    recency = [np.arange(len(h), 0, -1, dtype=np.float32) for h in hists]
    seen = history_matrix(hists, model.items, recency)
    prepared = model.prepare_history(seen)
    scores = np.asarray(model.score(model.users.index(user_ids), prepared), dtype=np.float64)
    rows, cols = seen.nonzero()
    scores[rows, cols] = -np.inf
    return scores, seen


def top_lists(model: Recommender, scores: np.ndarray, n: int) -> list[list[tuple[int, float]]]:
    idx = top_n(scores, n)
    vals = np.take_along_axis(scores, idx, axis=1)
    ids = model.items.ids[idx]
    return [
        [(int(m), float(s)) for m, s in zip(ids[r], vals[r], strict=True) if np.isfinite(s)]
        for r in range(len(idx))
    ]


def blend_scores(
    models: dict[Strategy, Recommender], scores: dict[Strategy, np.ndarray], k: int
) -> tuple[Recommender, np.ndarray] | None:
    """Stage one: union of each source's top-k; stage two: NCF scores of that union (or a
    reciprocal-rank fusion of the sources when NCF is missing). ``scores`` are the batch's
    scores per strategy (seen items at -inf), computed once; same item index only."""
    sources = [
        s
        for s in (Strategy.cf, Strategy.item2item, Strategy.content, Strategy.popular)
        if s in models
    ]
    if not sources:
        return None
    base = models[sources[0]]
    same = [s for s in sources if np.array_equal(models[s].items.ids, base.items.ids)]
    first = scores[same[0]]
    mask = np.zeros(first.shape, dtype=bool)
    fused = np.zeros(first.shape, dtype=np.float64)
    for s in same:
        top = top_n(scores[s], k)
        np.put_along_axis(mask, top, True, axis=1)
        fused[np.arange(len(top))[:, None], top] += 1.0 / (1.0 + np.arange(top.shape[1]))
    mask &= np.isfinite(first)
    ranker = models.get(Strategy.ncf)
    final = fused
    if ranker is not None and np.array_equal(ranker.items.ids, base.items.ids):
        final = scores[Strategy.ncf]
    return base, np.where(mask, final, -np.inf)


def render(
    user_id: int,
    strategy: Strategy,
    version: str,
    items: list[tuple[int, float]],
    source: str,
    cards: dict[int, dict],
) -> RecList:
    rendered = [
        RecItem(
            **(cards.get(m) or {"movie_id": m}),
            score=round(s, 6),
            source=source,
            reason=REASONS.get(source, "Picked for your taste"),
        )
        for m, s in items
    ]
    return RecList(user_id=user_id, strategy=strategy, model_version=version, items=rendered)


def write_rows(engine: Engine, model_type: str, lists: dict[int, RecList], version: str) -> None:
    if not lists:
        return
    rows = [
        {
            "user_id": u,
            "model_type": model_type,
            "rank": rank,
            "movie_id": item.movie_id,
            "model_version": version[:64],
            "score": item.score,
            "reason": item.reason,
        }
        for u, rec in lists.items()
        for rank, item in enumerate(rec.items, start=1)
    ]
    with engine.begin() as conn:
        conn.execute(
            delete(user_recommendations).where(
                (user_recommendations.c.model_type == model_type)
                & user_recommendations.c.user_id.in_(list(lists))
            )
        )
        if rows:
            conn.execute(insert(user_recommendations), rows)


async def _cache_lists(
    cache: Cache, strategy: Strategy, tag: str, lists: dict[int, RecList], ttl_s: int
) -> int:
    payload = {
        u: {f"{strategy.value}:{tag}": rec.model_dump_json().encode()} for u, rec in lists.items()
    }
    try:
        await cache.put_many(payload, ttl_s)
        return 0
    except CacheError as exc:
        log.warning("cache write failed (%s); lists stay in user_recommendations", exc)
        return 1


def load_models(settings: Settings, result: PrecomputeResult) -> dict[Strategy, Recommender]:
    from kryptonite.store.artifacts import store_from_settings

    store = store_from_settings(settings)
    models: dict[Strategy, Recommender] = {}
    for strategy, (artifact_type, _, _) in SINGLE.items():
        try:
            models[strategy], _ = store.load(artifact_type)
        except Exception as exc:  # a model not published yet: skip its strategy
            result.skipped[strategy.value] = f"{type(exc).__name__}: {exc}"
    return models


async def precompute(
    settings: Settings,
    shard: int = 0,
    shards: int = 1,
    *,
    models: dict[Strategy, Recommender] | None = None,
    limit: int | None = None,
) -> PrecomputeResult:
    """Compute and store every list of shard ``shard`` of ``shards``."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard must be in [0, {shards}), got {shard}")
    start = time.perf_counter()
    result = PrecomputeResult(shard, shards)
    n = limit or settings.precompute_limit
    engine = create_sync_engine(settings.resolved_database_url)
    cache = create_cache(settings)
    try:
        models = models if models is not None else load_models(settings, result)
        with engine.connect() as conn:
            pairs = versions.current_from_db(conn)
        tag = versions.tag(pairs or versions.latest_from_artifacts(settings))
        cards = movie_cards(engine)
        user_ids = shard_users(engine, shard, shards)
        result.users = len(user_ids)
        for lo in range(0, len(user_ids), settings.precompute_batch):
            batch = user_ids[lo : lo + settings.precompute_batch]
            by_user = histories(engine, batch)
            hists = [by_user[u] for u in batch]
            per_strategy: dict[Strategy, tuple[Recommender, np.ndarray, str, str]] = {}
            for strategy, model in models.items():
                _, model_type, source = SINGLE[strategy]
                scores, _ = batch_scores(model, batch, hists)
                per_strategy[strategy] = (model, scores, model_type, source)
            k = max(n, settings.gateway_candidates // 4)
            blended = blend_scores(models, {s: v[1] for s, v in per_strategy.items()}, k)
            if blended is not None:
                per_strategy[Strategy.blend] = (*blended, "blend", "blend")
            for strategy, (model, scores, model_type, source) in per_strategy.items():
                lists = {
                    u: render(u, strategy, tag, items, source, cards)
                    for u, items in zip(batch, top_lists(model, scores, n), strict=True)
                }
                write_rows(engine, model_type, lists, tag)
                result.cache_errors += await _cache_lists(
                    cache, strategy, tag, lists, settings.cache_ttl_s
                )
                result.lists[strategy.value] = result.lists.get(strategy.value, 0) + len(lists)
    finally:
        await cache.close()
        engine.dispose()
    result.seconds = time.perf_counter() - start
    return result


def run(settings: Settings, shard: int, shards: int) -> PrecomputeResult:
    return asyncio.run(precompute(settings, shard, shards))
