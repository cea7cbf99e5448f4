"""Recommendations: strategies, reasons, cache hits and invalidation, cold start."""

from __future__ import annotations

import httpx
import pytest
from tests.integration.gateway.conftest import SCIFI, Stack, expect, sign_up

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]


async def recs(api: httpx.AsyncClient, auth: dict, **params: object) -> dict:
    reply = await api.get("/me/recommendations", params=params, headers=auth)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_new_user_with_three_scifi_movies_gets_scifi(
    api: httpx.AsyncClient, stack: Stack, scifi_movies: list[int]
) -> None:
    _, auth = await sign_up(api)
    for movie in scifi_movies:
        assert (await api.put(f"/me/list/{movie}", headers=auth)).status_code == 204
    titles = {expect(await api.get(f"/movies/{m}"), 200)["title"] for m in scifi_movies}
    for strategy in ("content", "blend"):
        body = await recs(api, auth, strategy=strategy, limit=10)
        assert not body["degraded"] and len(body["items"]) == 10
        scifi = [i for i in body["items"] if SCIFI in i["genres"]]
        assert len(scifi) >= 7, (strategy, [(i["title"], i["genres"]) for i in body["items"]])
        assert not {i["movie_id"] for i in body["items"]} & set(scifi_movies)
        if strategy == "blend":  # diversified: <= 4 of 10 share one genre combination
            combos = [tuple(i["genres"]) for i in body["items"]]
            assert max(combos.count(c) for c in combos) <= 4, combos
        because = [i["reason"] for i in body["items"] if i["reason"].startswith("Because you")]
        assert because and all(r.split("added ", 1)[-1] in titles for r in because)


async def test_every_strategy_answers(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    expect(await api.put("/me/list/1214", headers=auth), 204)
    expect(await api.put("/me/ratings/260", json={"rating": 5}, headers=auth), 200)
    for strategy in ("blend", "content", "cf", "ncf", "item2item", "popular"):
        body = await recs(api, auth, strategy=strategy, limit=5)
        assert body["strategy"] == strategy and len(body["items"]) == 5, body
        assert not body["degraded"]
        assert all(i["title"] and i["reason"] and i["source"] for i in body["items"])
        assert not {i["movie_id"] for i in body["items"]} & {1214, 260}
    popular = await recs(api, auth, strategy="popular", limit=3)
    assert len(popular["items"]) == 3 and all(
        i["reason"] == "Popular right now" for i in popular["items"]
    )
    for limit, message in ((1000, "less than or equal to 100"), (0, "greater than or equal to 1")):
        error = expect(
            await api.get("/me/recommendations", params={"limit": limit}, headers=auth), 422
        )["error"]
        assert (error["code"], error["field"]) == ("validation_error", "limit"), error
        assert error["message"] == f"limit: Input should be {message}", error


async def test_cache_hit_then_invalidated_by_a_write(api: httpx.AsyncClient, stack: Stack) -> None:
    _, auth = await sign_up(api)
    expect(await api.put("/me/list/1214", headers=auth), 204)
    first = await recs(api, auth, limit=10)
    calls = stack.candidates.calls
    second = await recs(api, auth, limit=10)
    assert not first["cached"] and second["cached"]
    assert stack.candidates.calls == calls  # served from Redis, no downstream call
    assert [i["movie_id"] for i in second["items"]] == [i["movie_id"] for i in first["items"]]
    smaller = await recs(api, auth, limit=3)
    assert smaller["cached"] and len(smaller["items"]) == 3
    top = first["items"][0]["movie_id"]
    expect(await api.post("/me/events", json={"movie_id": top, "event": "view"}, headers=auth), 202)
    third = await recs(api, auth, limit=10)
    assert not third["cached"] and stack.candidates.calls == calls + 1
    assert top not in {i["movie_id"] for i in third["items"]}  # seen movies are filtered
