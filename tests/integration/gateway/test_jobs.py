"""`kryptonite precompute` (sharded, vectorized, real models from an artifact store) and
`kryptonite daily-update`, read back through the gateway."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, union
from tests.integration.gateway.conftest import Stack, expect, serve, settings_for, sign_up

from kryptonite.pipeline.daily import daily_update_rows
from kryptonite.pipeline.precompute import precompute
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.tables import (
    daily_update,
    rating_explicit,
    rating_implicit,
    user_movielist,
    user_recommendations,
    users,
)

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]


async def test_precompute_shards_cover_users_and_feed_the_cache(
    stack: Stack, artifacts: Path
) -> None:
    settings = settings_for(stack, artifact_uri=str(artifacts), precompute_limit=20)
    async with serve(settings) as api:
        user_id, auth = await sign_up(api)
        expect(await api.put("/me/list/1214", headers=auth), 204)
        results = [await precompute(settings, shard, 2) for shard in (0, 1)]
        engine = create_sync_engine(stack.db_url)
        with engine.connect() as conn:
            n_users = conn.execute(select(func.count()).select_from(users)).scalar()
            liked = union(
                select(rating_explicit.c.user_id).where(rating_explicit.c.rating >= 3),
                select(user_movielist.c.user_id),
            ).subquery()
            without_likes = n_users - conn.execute(select(func.count()).select_from(liked)).scalar()
            active = union(
                select(rating_implicit.c.user_id), select(user_movielist.c.user_id)
            ).subquery()
            without_history = (
                n_users - conn.execute(select(func.count()).select_from(active)).scalar()
            )
            per_type = dict(
                conn.execute(
                    select(
                        user_recommendations.c.model_type,
                        func.count(func.distinct(user_recommendations.c.user_id)),
                    ).group_by(user_recommendations.c.model_type)
                ).all()
            )
            mine = conn.execute(
                select(user_recommendations.c.movie_id)
                .where(
                    (user_recommendations.c.user_id == user_id)
                    & (user_recommendations.c.model_type == "mf_implicit")
                )
                .order_by(user_recommendations.c.rank)
            ).all()
        engine.dispose()
        assert sum(r.users for r in results) == n_users
        assert not any(r.cache_errors for r in results)
        assert set(per_type) == {
            "popularity",
            "content",
            "item2item",
            "mf_implicit",
            "ncf_implicit",
            "blend",
        }
        # "because you liked" seeds from liked movies only: a user whose recent ratings are
        # all below 3 gets an empty row (and a hint), so no rows
        liked_nothing = n_users - per_type.pop("item2item")
        assert 0 <= liked_nothing <= without_likes + n_users // 100, (n_users, liked_nothing)
        # "people like you watched" needs some history (other tests sign up empty users)
        assert n_users - per_type.pop("mf_implicit") <= without_history, per_type
        assert all(count == n_users for count in per_type.values()), (n_users, per_type, results)
        assert len(mine) == 20 and 1214 not in {m for (m,) in mine}  # listed = seen
        reply = await api.get("/me/recommendations", params={"strategy": "cf"}, headers=auth)
        body = reply.json()
        assert body["cached"] and "mf_implicit@" in body["model_version"], body
        assert [i["movie_id"] for i in body["items"]] == [m for (m,) in mine][:20]
        # a write by the user invalidates the precomputed lists too
        expect(await api.put("/me/list/260", headers=auth), 204)
        again = await api.get("/me/recommendations", params={"strategy": "cf"}, headers=auth)
        assert not again.json()["cached"]


async def test_daily_update_new_and_trending(stack: Stack, api) -> None:
    engine = create_sync_engine(stack.db_url)
    day = dt.date(2026, 1, 2)
    try:
        for _ in range(2):  # idempotent for a day
            assert daily_update_rows(engine, day, n=10) == {"new": 10, "trending": 10}
        with engine.connect() as conn:
            rows = conn.execute(
                select(func.count()).select_from(daily_update).where(daily_update.c.day == day)
            ).scalar()
    finally:
        engine.dispose()
    assert rows == 20
    trending = expect(await api.get("/movies/daily/trending", params={"limit": 5}), 200)
    assert trending["day"] == "2026-01-02" and len(trending["items"]) == 5
    new = expect(await api.get("/movies/daily/new"), 200)
    assert len(new["items"]) == 10 and all(m["title"] for m in new["items"])
    assert (await api.get("/movies/daily/old")).status_code == 422
