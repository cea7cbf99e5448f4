"""App accounts: ids above every MovieLens id, unique under concurrent sign-ups."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.engine import Engine

from kryptonite.store import queries
from kryptonite.store.engine import create_async_db_engine
from kryptonite.store.tables import APP_USER_ID_START


async def test_concurrent_sign_ups_get_distinct_ids(migrated_engine: Engine) -> None:
    engine = create_async_db_engine(migrated_engine.url.render_as_string(hide_password=False))

    async def sign_up(i: int) -> int:
        async with engine.begin() as conn:
            return await queries.create_user(conn, f"user{i}", f"u{i}@example.com", "hash")

    try:
        ids = await asyncio.gather(*(sign_up(i) for i in range(16)))
        assert len(set(ids)) == 16
        assert min(ids) >= APP_USER_ID_START
        with pytest.raises(queries.UsernameTaken):
            await sign_up(3)
        async with engine.begin() as conn:
            with pytest.raises(queries.UsernameTaken):  # same e-mail, other username
                await queries.create_user(conn, "someone", "u4@example.com", "hash")
    finally:
        await engine.dispose()
