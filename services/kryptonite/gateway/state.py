"""Everything the app holds for its lifetime, opened and closed by ``lifespan``."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kryptonite.config import Settings
from kryptonite.gateway import versions
from kryptonite.gateway.errors import is_write_conflict
from kryptonite.gateway.metrics import GatewayMetrics
from kryptonite.gateway.revocation import Revocations
from kryptonite.gateway.search import SearchIndex
from kryptonite.gateway.security import Tokens
from kryptonite.rpc.clients import CandidatesClient, ContentClient, RankingClient
from kryptonite.store import queries
from kryptonite.store.cache import Cache, RedisCache, create_cache
from kryptonite.store.engine import create_async_db_engine

log = logging.getLogger("kryptonite.gateway")
T = TypeVar("T")
#: Runs of a write transaction the database aborted as a deadlock before giving up (409).
CONFLICT_ATTEMPTS = 6


@dataclass
class Catalog:
    """In-process snapshot refreshed in the background: popularity and model versions.

    Serves the ``popular`` strategy and every fallback without touching the database,
    so they keep working while MySQL is down.
    """

    popular: list[tuple[int, float]] = field(default_factory=list)
    genres: dict[int, set[str]] = field(default_factory=dict)
    model_version: str = "none"
    loaded: bool = False
    popular_at: float = float("-inf")

    async def refresh(self, engine: AsyncEngine, settings: Settings, depth: int = 2000) -> None:
        """Model versions every time; popularity (an aggregate over all ratings) only
        every ``gateway_popular_refresh_s``."""
        due = time.monotonic() - self.popular_at >= settings.gateway_popular_refresh_s
        async with engine.connect() as conn:
            if due:
                popular = await queries.popular(conn, depth)
                genres = await queries.movie_genre_map(conn, [m for m, _ in popular])
                self.popular, self.genres = popular, genres
                self.popular_at = time.monotonic()
            pairs = await conn.run_sync(versions.current_from_db)
        if not pairs:
            pairs = await asyncio.to_thread(versions.latest_from_artifacts, settings)
        self.model_version = versions.tag(pairs)
        self.loaded = True


@dataclass
class GatewayState:
    settings: Settings
    engine: AsyncEngine
    cache: Cache
    candidates: CandidatesClient
    ranking: RankingClient
    content: ContentClient
    tokens: Tokens
    metrics: GatewayMetrics
    catalog: Catalog = field(default_factory=Catalog)
    search: SearchIndex = field(default_factory=SearchIndex)
    _refresher: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.search.max_age_s = self.settings.gateway_popular_refresh_s

    @asynccontextmanager
    async def _connection(
        self, *, begin: bool, deadline: float | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """A connection whose checkout and work share the database deadline; its release
        to the pool is bounded on its own and never raises (a database that hangs while a
        connection is handed back must not fail, or cut off, a request that is done)."""
        if deadline is None:
            deadline = asyncio.get_running_loop().time() + self.settings.db_timeout_s
        async with asyncio.timeout_at(deadline):
            conn = await self.engine.connect().start()
        try:
            async with asyncio.timeout_at(deadline):
                if begin:
                    async with conn.begin():
                        yield conn
                else:
                    yield conn
        finally:
            await self._release(conn)

    async def _release(self, conn: AsyncConnection) -> None:
        """Give ``conn`` back (its reset is a ROLLBACK round trip); when that fails or
        takes over ``db_release_s``, drop the connection instead."""
        try:
            async with asyncio.timeout(self.settings.db_release_s):
                await conn.close()
            return
        except Exception as exc:  # the deadline (TimeoutError) or a broken connection
            log.warning("database connection not released cleanly (%s)", type(exc).__name__)
            self.metrics.downstream_failures.labels("database").inc()
        try:
            async with asyncio.timeout(self.settings.db_release_s):
                await conn.invalidate()
        except Exception:  # the socket is dropped with the connection object
            pass

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction with the database deadline (commit on success)."""
        async with self._connection(begin=True) as conn:
            yield conn

    async def transact(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``work(conn)`` in a write transaction under one database deadline; a deadlock
        or lock timeout (the database rolled it all back) runs it again, after a short
        random pause, up to ``CONFLICT_ATTEMPTS`` times."""
        deadline = asyncio.get_running_loop().time() + self.settings.db_timeout_s
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                async with self._connection(begin=True, deadline=deadline) as conn:
                    return await work(conn)
            except OperationalError as exc:
                if not is_write_conflict(exc) or attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                self.metrics.downstream_failures.labels("database_conflict").inc()
                async with asyncio.timeout_at(deadline):
                    await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read connection with the database deadline."""
        async with self._connection(begin=False) as conn:
            yield conn

    async def refresh_catalog(self) -> bool:
        try:
            await self.catalog.refresh(self.engine, self.settings)
            return True
        except Exception as exc:  # keep serving the last snapshot
            log.warning("catalog refresh failed: %s", type(exc).__name__)
            self.metrics.downstream_failures.labels("database").inc()
            return False

    def start_refresher(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.settings.gateway_refresh_s)
                await self.refresh_catalog()

        self._refresher = asyncio.create_task(loop(), name="catalog-refresh")

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        for client in (self.candidates, self.ranking, self.content):
            await client.close()
        await self.cache.close()
        await self.engine.dispose()


class Services(Protocol):
    """The three downstream services: gRPC clients, or the servicers in-process."""

    candidates: CandidatesClient
    ranking: RankingClient
    content: ContentClient


def open_state(
    settings: Settings, metrics: GatewayMetrics, services: Services | None = None
) -> GatewayState:
    """Engine, cache and the three services for ``settings`` (connections are made
    lazily): gRPC clients by default, or ``services`` (the in-process servicers that
    precompute and the offline evaluation run the live path over)."""
    cache = create_cache(settings)
    return GatewayState(
        settings=settings,
        engine=create_async_db_engine(settings.resolved_database_url),
        cache=cache,
        candidates=services.candidates if services else CandidatesClient.from_settings(settings),
        ranking=services.ranking if services else RankingClient.from_settings(settings),
        content=services.content if services else ContentClient.from_settings(settings),
        tokens=Tokens(
            settings.token_secret.get_secret_value(),
            settings.token_ttl_s,
            revocations=Revocations(
                cache.client if isinstance(cache, RedisCache) else None,
                prefix=settings.cache_prefix,
                token_ttl_s=settings.token_ttl_s,
                poll_s=settings.revocation_poll_s,
            ),
        ),
        metrics=metrics,
    )
