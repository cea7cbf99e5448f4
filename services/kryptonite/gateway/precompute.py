"""``kryptonite precompute``: every user's lists of one shard, through the live path.

Each list is computed by the gateway's own orchestration (:class:`Recommender`) over the
three services run in-process (:mod:`kryptonite.serving.inprocess`: the real servicers,
loaded from the artifact store as the services load them), so a precomputed list is the
list a live request would get for the same user state and model versions: same
retrieval, ranking, diversity, filters, reasons and cache entries. Each list also goes to
``user_recommendations`` (replacing the user's previous rows of that model type). Users
are split by ``user_id % shards`` (a Kubernetes Indexed Job runs shard ``i`` =
``JOB_COMPLETION_INDEX``); each batch of users is computed concurrently and logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, insert, select

from kryptonite.config import Settings
from kryptonite.gateway.metrics import GatewayMetrics
from kryptonite.gateway.recommend import Recommender
from kryptonite.gateway.schemas import RecList, Strategy
from kryptonite.gateway.security import Tokens
from kryptonite.gateway.state import GatewayState
from kryptonite.store.cache import create_cache
from kryptonite.store.engine import create_async_db_engine, create_sync_engine
from kryptonite.store.tables import user_recommendations, users

log = logging.getLogger("kryptonite.precompute")

#: strategy -> model_type of its user_recommendations rows
MODEL_TYPES = {
    Strategy.blend: "blend",
    Strategy.popular: "popularity",
    Strategy.content: "content",
    Strategy.cf: "mf_implicit",
    Strategy.item2item: "item2item",
    Strategy.ncf: "ncf_implicit",
}
#: Users whose lists are computed concurrently (the services' threads do the work).
CONCURRENCY = 4


@dataclass
class PrecomputeResult:
    shard: int
    shards: int
    users: int = 0
    lists: dict[str, int] = field(default_factory=dict)
    degraded: dict[str, int] = field(default_factory=dict)
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


def write_rows(engine: Engine, model_type: str, lists: dict[int, RecList]) -> None:
    if not lists:
        return
    rows = [
        {
            "user_id": u,
            "model_type": model_type,
            "rank": rank,
            "movie_id": item.movie_id,
            "model_version": rec.model_version[:64],
            "score": item.score,
            "reason": item.reason[:255] if item.reason else None,
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


def open_state(settings: Settings, services) -> GatewayState:
    """A gateway state whose three clients are the in-process services."""
    return GatewayState(
        settings=settings,
        engine=create_async_db_engine(settings.resolved_database_url),
        cache=create_cache(settings),
        candidates=services.candidates,
        ranking=services.ranking,
        content=services.content,
        tokens=Tokens(settings.token_secret.get_secret_value(), settings.token_ttl_s),
        metrics=GatewayMetrics(),
    )


async def precompute(
    settings: Settings,
    shard: int = 0,
    shards: int = 1,
    *,
    services=None,
    limit: int | None = None,
    strategies: tuple[Strategy, ...] = tuple(MODEL_TYPES),
    progress: Callable[[str], None] | None = None,
) -> PrecomputeResult:
    """Compute, cache and store every list of shard ``shard`` of ``shards``."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard must be in [0, {shards}), got {shard}")
    from kryptonite.serving import inprocess
    from kryptonite.store.artifacts import store_from_settings

    start = time.perf_counter()
    result = PrecomputeResult(shard, shards)
    n = limit or settings.precompute_limit
    say = progress or log.info
    engine = create_sync_engine(settings.resolved_database_url)
    if services is None:
        say("precompute: loading the published models")
        services = await inprocess.from_store(
            store_from_settings(settings), settings.ranking_diversity
        )
    state = open_state(settings, services)
    try:
        if not await state.refresh_catalog():
            raise RuntimeError("precompute: the database is not readable (catalog refresh failed)")
        recommender = Recommender(state)
        user_ids = shard_users(engine, shard, shards)
        result.users = len(user_ids)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(user_id: int, strategy: Strategy) -> RecList:
            async with gate:
                body = await recommender.recommend(user_id, strategy, n, fresh=True)
            return RecList.model_validate_json(body)

        batch = settings.precompute_batch
        for lo in range(0, len(user_ids), batch):
            chunk = user_ids[lo : lo + batch]
            for strategy in strategies:
                lists = await asyncio.gather(*(one(u, strategy) for u in chunk))
                done = {u: rec for u, rec in zip(chunk, lists, strict=True) if not rec.degraded}
                degraded = len(chunk) - len(done)
                if degraded:
                    result.degraded[strategy.value] = (
                        result.degraded.get(strategy.value, 0) + degraded
                    )
                write_rows(engine, MODEL_TYPES[strategy], done)
                result.lists[strategy.value] = result.lists.get(strategy.value, 0) + len(done)
            elapsed = time.perf_counter() - start
            finished = min(lo + batch, len(user_ids))
            say(
                f"precompute shard {shard}/{shards}: {finished:,}/{len(user_ids):,} users "
                f"({finished / max(elapsed, 1e-9):.1f} users/s)"
            )
        failures = state.metrics.registry.get_sample_value(
            "kryptonite_downstream_failures_total", {"target": "cache"}
        )
        result.cache_errors = int(failures or 0)
    finally:
        await state.close()
        engine.dispose()
    result.seconds = time.perf_counter() - start
    return result


def run(settings: Settings, shard: int, shards: int) -> PrecomputeResult:
    return asyncio.run(precompute(settings, shard, shards))
