"""The embedded default: SQLite store and in-process cache, same code paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.gateway.conftest import Stack, serve, settings_for, sign_up

from kryptonite.config import Settings
from kryptonite.datasets.ingest import ingest_dataset

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_sqlite_and_in_process_cache(stack: Stack, data_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kryptonite.sqlite'}"
    ingest_dataset(Settings(database_url=url, data_dir=data_dir), "ml-latest-small")
    async with serve(settings_for(stack, database_url=url, redis_url=None)) as api:
        _, auth = await sign_up(api)
        assert (await api.put("/me/list/1214", headers=auth)).status_code == 204
        first = (await api.get("/me/recommendations", headers=auth)).json()
        second = (await api.get("/me/recommendations", headers=auth)).json()
        assert not first["cached"] and second["cached"] and not second["degraded"]
        assert (await api.put("/me/ratings/2571", json={"rating": 4}, headers=auth)).status_code
        third = (await api.get("/me/recommendations", headers=auth)).json()
        assert not third["cached"] and 2571 not in {i["movie_id"] for i in third["items"]}
        page = (await api.get("/movies", params={"q": "matrix"})).json()
        assert page["total"] >= 3
        found = (await api.get("/movies", params={"q": "the incredibles"})).json()
        assert found["items"][0]["movie_id"] == 8961  # "Incredibles, The" on SQLite too
        ready = (await api.get("/readyz")).json()
        assert ready["checks"]["database"] == "ok" and ready["checks"]["cache"] == "ok"
