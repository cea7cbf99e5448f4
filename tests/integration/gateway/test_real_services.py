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
from kryptonite.gateway.schemas import Strategy
from kryptonite.pipeline.precompute import precompute
from kryptonite.serving import inprocess
from kryptonite.store.artifacts import store_from_settings
from kryptonite.store.cache import create_cache

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def real_stack(
    stack: Stack, artifacts: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
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
            yield client, settings
    finally:
        for svc in services:
            await svc.stop(0.5)


@pytest.fixture
def real_api(real_stack: tuple[httpx.AsyncClient, Settings]) -> httpx.AsyncClient:
    return real_stack[0]


async def test_precomputed_lists_equal_live_ones(
    real_stack: tuple[httpx.AsyncClient, Settings],
) -> None:
    """One path: for the same user state and model versions, the list precompute caches
    is the list a live request computes through the three gRPC services."""
    api, settings = real_stack
    user_id, auth = await sign_up(api)
    for movie in (1, 2355, 3114):  # Toy Story, A Bug's Life, Toy Story 2
        assert (await api.put(f"/me/list/{movie}", headers=auth)).status_code == 204
    assert (await api.put("/me/ratings/4886", json={"rating": 5}, headers=auth)).status_code == 200
    services = await inprocess.from_store(store_from_settings(settings), settings.ranking_diversity)
    cache = create_cache(settings)
    try:
        for strategy in Strategy:
            shard = (user_id % 50, 50)
            await precompute(settings, *shard, services=services, limit=20, strategies=(strategy,))
            params = {"strategy": strategy.value, "limit": 20}
            hit = await api.get("/me/recommendations", params=params, headers=auth)
            assert hit.status_code == 200 and hit.json()["cached"], (strategy, hit.text)
            await cache.invalidate(user_id)
            live = await api.get("/me/recommendations", params=params, headers=auth)
            assert live.status_code == 200 and not live.json()["cached"], (strategy, live.text)
            assert not live.json()["degraded"], live.json()
            strip = [
                {k: i[k] for k in ("movie_id", "reason", "anchor_movie_id", "source")}
                for i in hit.json()["items"]
            ]
            fresh = [
                {k: i[k] for k in ("movie_id", "reason", "anchor_movie_id", "source")}
                for i in live.json()["items"]
            ]
            assert strip == fresh, strategy
            assert hit.json()["model_version"] == live.json()["model_version"]
    finally:
        await cache.close()


async def test_new_user_with_three_scifi_movies_gets_scifi(
    real_api: httpx.AsyncClient, scifi_movies: list[int]
) -> None:
    """Content (the cold-start path) must be mostly Sci-Fi, and so must the served blend:
    with the tiny models trained here it gives 6/10 (the NeuMF-ordered blend this bar
    replaced gave 1-3/10 to the same taste, which must fail)."""
    _, auth = await sign_up(real_api)
    for movie in scifi_movies:
        assert (await real_api.put(f"/me/list/{movie}", headers=auth)).status_code == 204
    listed = set(scifi_movies)
    for strategy, min_scifi in (("content", 7), ("blend", 5)):
        reply = await real_api.get(
            "/me/recommendations", params={"strategy": strategy, "limit": 10}, headers=auth
        )
        body = reply.json()
        assert reply.status_code == 200 and not body["degraded"], body
        scifi = sum(SCIFI in i["genres"] for i in body["items"])
        assert len(body["items"]) == 10 and scifi >= min_scifi, (strategy, body["items"])
        assert not {i["movie_id"] for i in body["items"]} & listed
        assert any(i["reason"].startswith("Because you added") for i in body["items"])


#: Persona benchmark cases (``models/evaluation/personas.py``) as lists of a new user:
#: (persona, genre that fits, the fewest fitting movies of the blend's top 10, of content's).
PERSONA_BARS = (("pixar", "Animation", 7, 9), ("horror", "Horror", 8, 9))


@pytest.mark.parametrize(("key", "genre", "blend_min", "content_min"), PERSONA_BARS)
async def test_a_persona_list_gets_its_taste(
    real_api: httpx.AsyncClient, key: str, genre: str, blend_min: int, content_min: int
) -> None:
    """A new user who lists a persona's ten movies: the served blend and the content row
    fit the taste. With the small models trained here the blend gives Pixar 9/10 and
    horror 10/10 (the NeuMF-ordered blend that showed The Lord of the Rings and The Matrix
    to a Pixar list gave 2/10 Animation)."""
    from kryptonite.models.evaluation.personas import PERSONAS

    persona = next(p for p in PERSONAS if p.key == key)
    _, auth = await sign_up(real_api)
    for movie in persona.movie_ids:
        assert (await real_api.put(f"/me/list/{movie}", headers=auth)).status_code == 204
    for strategy, least in (("blend", blend_min), ("content", content_min)):
        reply = await real_api.get(
            "/me/recommendations", params={"strategy": strategy, "limit": 10}, headers=auth
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        fit = [i["title"] for i in body["items"] if genre in i["genres"]]
        assert not body["degraded"] and len(body["items"]) == 10, body
        assert len(fit) >= least, (strategy, [i["title"] for i in body["items"]])
        assert not {i["movie_id"] for i in body["items"]} & set(persona.movie_ids)


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


def _similarity(artifacts: Path):
    """sim(anchor, card) > 0 by any similarity a reason may rest on (the item-item
    regression, item-to-item neighbours, content cosine) of the served models."""
    from kryptonite.store.artifacts import LocalArtifactStore

    store = LocalArtifactStore(artifacts)
    ridge, _ = store.load("item_ridge")
    knn, _ = store.load("item2item")
    content, _ = store.load("content")

    def related(anchor: int, card: int) -> bool:
        a, c = knn.items.index([anchor, card])
        if a < 0 or c < 0:
            return False
        if knn.sim[a, c] > 0 or knn.sim[c, a] > 0:
            return True
        support = {int(i): k for k, i in enumerate(ridge.support)}
        if a in support and c in support and ridge.b[support[a], support[c]] > 0:
            return True
        return float((content.x[a] @ content.x[c].T).toarray()[0, 0]) >= 0.1

    return related


async def test_reasons_name_true_and_similar_anchors(
    real_stack: tuple[httpx.AsyncClient, Settings], artifacts: Path
) -> None:
    """ "Because you added X" only for a listed X, "watched" only for a watched/rated one,
    never a movie rated low or taken off the list, and X is similar to the card."""
    api, _ = real_stack
    _, auth = await sign_up(api)
    listed, liked, disliked, removed = [1, 2355, 6377], 4886, 2081, 3114
    for movie in [*listed, removed]:
        assert (await api.put(f"/me/list/{movie}", headers=auth)).status_code == 204
    for movie, stars in ((liked, 5.0), (disliked, 1.5)):
        reply = await api.put(f"/me/ratings/{movie}", json={"rating": stars}, headers=auth)
        assert reply.status_code == 200, reply.text
    assert (await api.delete(f"/me/list/{removed}", headers=auth)).status_code == 204
    related = _similarity(artifacts)
    anchored = 0
    for strategy in ("blend", "item2item", "content", "cf", "ncf"):
        reply = await api.get(
            "/me/recommendations", params={"strategy": strategy, "limit": 20}, headers=auth
        )
        assert reply.status_code == 200, reply.text
        items = reply.json()["items"]
        assert removed not in {i["movie_id"] for i in items}, strategy
        for item in items:
            anchor = item["anchor_movie_id"]
            if item["reason"].startswith("Because you added"):
                assert anchor in listed, (strategy, item)
            elif item["reason"].startswith("Because you watched"):
                assert anchor == liked, (strategy, item)
            assert anchor not in (disliked, removed), (strategy, item)
            if anchor:
                anchored += 1
                assert related(anchor, item["movie_id"]), (strategy, item)
    assert anchored >= 20, "reasons should name anchors for most personalised cards"
