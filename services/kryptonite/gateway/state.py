"""Everything the app holds for its lifetime, opened and closed by ``lifespan``."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kryptonite.config import Settings
from kryptonite.gateway import versions
from kryptonite.gateway.errors import is_write_conflict
from kryptonite.gateway.metrics import GatewayMetrics
from kryptonite.gateway.security import Tokens
from kryptonite.rpc.clients import CandidatesClient, ContentClient, RankingClient
from kryptonite.store import queries
from kryptonite.store.cache import Cache

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
    _refresher: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction with the database deadline (commit on success)."""
        async with asyncio.timeout(self.settings.db_timeout_s), self.engine.begin() as conn:
            yield conn

    async def transact(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``work(conn)`` in a write transaction under one database deadline; a deadlock
        or lock timeout (the database rolled it all back) runs it again, after a short
        random pause, up to ``CONFLICT_ATTEMPTS`` times."""
        async with asyncio.timeout(self.settings.db_timeout_s):
            for attempt in range(CONFLICT_ATTEMPTS):
                try:
                    async with self.engine.begin() as conn:
                        return await work(conn)
                except OperationalError as exc:
                    if not is_write_conflict(exc) or attempt == CONFLICT_ATTEMPTS - 1:
                        raise
                    self.metrics.downstream_failures.labels("database_conflict").inc()
                    await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read connection with the database deadline."""
        async with asyncio.timeout(self.settings.db_timeout_s), self.engine.connect() as conn:
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
