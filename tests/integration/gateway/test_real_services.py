"""The gateway against the real candidates, ranking and content services (grpc.aio, small
real models from an artifact store) on loopback: cold start and every strategy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from tests.integration.gateway.conftest import SCIFI, Stack, serve, settings_for, sign_up

from kryptonite.config import Settings

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def real_api(stack: Stack, artifacts: Path) -> AsyncIterator[httpx.AsyncClient]:
    from kryptonite.candidates import main as candidates_main
    from kryptonite.content import main as content_main
    from kryptonite.ranking import main as ranking_main

    service_settings = Settings(artifact_uri=str(artifacts), model_poll_s=3600)
    services = [
        mod.create(service_settings, port=0, metrics_port=None, grace_s=0.5)
        for mod in (candidates_main, ranking_main, content_main)
    ]
    ports = [await svc.start() for svc in services]
    addrs = {
        f"{name}_addr": f"127.0.0.1:{port}"
        for name, port in zip(("candidates", "ranking", "content"), ports, strict=True)
    }
    settings = settings_for(stack, artifact_uri=str(artifacts), rpc_timeout_s=5.0, **addrs)
    try:
        async with serve(settings) as client:
            yield client
    finally:
        for svc in services:
            await svc.stop(0.5)


async def test_new_user_with_three_scifi_movies_gets_scifi(
    real_api: httpx.AsyncClient, scifi_movies: list[int]
) -> None:
    """Content (the cold-start path) must be mostly Sci-Fi; blend must answer un-degraded
    (its genre mix depends on the NCF/MF quality, tiny here)."""
    _, auth = await sign_up(real_api)
    for movie in scifi_movies:
        assert (await real_api.put(f"/me/list/{movie}", headers=auth)).status_code == 204
    listed = set(scifi_movies)
    for strategy, min_scifi in (("content", 7), ("blend", 0)):
        reply = await real_api.get(
            "/me/recommendations", params={"strategy": strategy, "limit": 10}, headers=auth
        )
        body = reply.json()
        assert reply.status_code == 200 and not body["degraded"], body
        scifi = sum(SCIFI in i["genres"] for i in body["items"])
        assert len(body["items"]) == 10 and scifi >= min_scifi, (strategy, body["items"])
        assert not {i["movie_id"] for i in body["items"]} & listed
        assert any(i["reason"].startswith("Because you added") for i in body["items"])


async def test_every_strategy_through_real_services(real_api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(real_api)
    await real_api.put("/me/list/1214", headers=auth)
    await real_api.put("/me/ratings/260", json={"rating": 5}, headers=auth)
    await real_api.post("/me/events", json={"movie_id": 1196, "event": "view"}, headers=auth)
    for strategy in ("blend", "ncf", "cf", "item2item", "content", "popular"):
        reply = await real_api.get(
            "/me/recommendations", params={"strategy": strategy, "limit": 10}, headers=auth
        )
        body = reply.json()
        assert reply.status_code == 200 and not body["degraded"], (strategy, body)
        assert len(body["items"]) == 10 and all(i["title"] and i["reason"] for i in body["items"])
        assert not {i["movie_id"] for i in body["items"]} & {1214, 260, 1196}
    similar = (await real_api.get("/movies/1214/similar", params={"limit": 5})).json()
    assert not similar["degraded"] and len(similar["items"]) == 5
    ready = (await real_api.get("/readyz")).json()
    assert set(ready["checks"].values()) == {"ok"}, ready
