"""``kryptonite precompute``: every user's lists of one shard, through the live path.

Each list is computed by the gateway's own orchestration (:class:`Orchestrator`) over the
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
from typing import Any

from kryptonite.config import Settings
from kryptonite.gateway.metrics import GatewayMetrics
from kryptonite.gateway.recommend import Orchestrator
from kryptonite.gateway.schemas import RecList, Strategy
from kryptonite.gateway.state import open_state
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.recommendations import replace_lists, shard_users

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


def _rows(lists: dict[int, RecList]) -> dict[int, list[dict[str, Any]]]:
    """``user_recommendations`` rows of each user's list."""
    return {
        user_id: [
            {
                "movie_id": item.movie_id,
                "score": item.score,
                "reason": item.reason,
                "model_version": rec.model_version,
            }
            for item in rec.items
        ]
        for user_id, rec in lists.items()
    }


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
    state = open_state(settings, GatewayMetrics(), services)
    try:
        if not await state.refresh_catalog():
            raise RuntimeError("precompute: the database is not readable (catalog refresh failed)")
        recommender = Orchestrator(state)
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
                replace_lists(engine, MODEL_TYPES[strategy], _rows(done))
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
