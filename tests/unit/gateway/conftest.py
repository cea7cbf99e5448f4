"""A gateway state (engine, cache, tokens, metrics) as the app opens it, over a real
migrated database with a few movies, without an HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine, insert

from kryptonite.config import Settings
from kryptonite.gateway.metrics import GatewayMetrics
from kryptonite.gateway.state import GatewayState, open_state
from kryptonite.store.tables import movies

#: Movies in the test catalog; any other id is unknown.
MOVIES = {1: "Toy Story (1995)", 260: "Star Wars (1977)", 2571: "Matrix, The (1999)"}


@pytest.fixture
def catalog_engine(migrated_engine: Engine) -> Engine:
    with migrated_engine.begin() as conn:
        conn.execute(insert(movies), [{"movie_id": m, "title": t} for m, t in MOVIES.items()])
    return migrated_engine


@pytest.fixture
def settings(catalog_engine: Engine) -> Settings:
    url = catalog_engine.url.render_as_string(hide_password=False)
    return Settings(database_url=url, redis_url=None, login_max_failures=3, login_window_s=120)


@pytest.fixture
async def state(settings: Settings) -> AsyncIterator[GatewayState]:
    """The state ``create_app``'s lifespan opens (in-process cache: no Redis URL)."""
    state = open_state(settings, GatewayMetrics())
    try:
        yield state
    finally:
        await state.close()
