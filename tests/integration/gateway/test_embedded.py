"""The embedded default: SQLite store and in-process cache, same code paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.gateway.conftest import Stack, expect, serve, settings_for, sign_up

from kryptonite.config import Settings
from kryptonite.datasets.ingest import ingest_dataset

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_sqlite_and_in_process_cache(stack: Stack, data_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kryptonite.sqlite'}"
    ingest_dataset(Settings(database_url=url, data_dir=data_dir), "ml-latest-small")
    async with serve(settings_for(stack, database_url=url, redis_url=None)) as api:
        _, auth = await sign_up(api)
        expect(await api.put("/me/list/1214", headers=auth), 204)
        first = expect(await api.get("/me/recommendations", headers=auth), 200)
        second = expect(await api.get("/me/recommendations", headers=auth), 200)
        assert not first["cached"] and second["cached"] and not second["degraded"]
        assert first["items"] and second["items"] == first["items"]
        rated = expect(await api.put("/me/ratings/2571", json={"rating": 4}, headers=auth), 200)
        assert rated["movie_id"] == 2571 and rated["rating"] == 4.0
        assert [r["movie_id"] for r in expect(await api.get("/me/ratings", headers=auth), 200)] == [
            2571
        ]
        third = expect(await api.get("/me/recommendations", headers=auth), 200)
        assert not third["cached"] and third["items"]
        assert not {1214, 2571} & {i["movie_id"] for i in third["items"]}
        page = expect(await api.get("/movies", params={"q": "matrix"}), 200)
        assert page["total"] >= 3 and "matrix" in page["items"][0]["title"].lower()
        found = expect(await api.get("/movies", params={"q": "the incredibles"}), 200)
        assert found["items"][0]["movie_id"] == 8961  # "Incredibles, The" on SQLite too
        ready = expect(await api.get("/readyz"), 200)
        assert ready["checks"]["database"] == "ok" and ready["checks"]["cache"] == "ok"
