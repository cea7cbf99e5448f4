"""Movies (search, detail, similar), personal list, ratings and events."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from tests.integration.gateway.conftest import Stack, expect, sign_up

from kryptonite.store.engine import create_sync_engine
from kryptonite.store.tables import rating_implicit

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]


async def test_search_filters_and_paginates(api: httpx.AsyncClient) -> None:
    page = expect(await api.get("/movies", params={"q": "alien", "limit": 3}), 200)
    assert page["total"] > 3 and len(page["items"]) == 3
    assert all("alien" in m["title"].lower() for m in page["items"])
    nxt = expect(await api.get("/movies", params={"q": "alien", "limit": 3, "offset": 3}), 200)
    assert not {m["movie_id"] for m in page["items"]} & {m["movie_id"] for m in nxt["items"]}
    scifi_1979 = expect(await api.get("/movies", params={"genre": "sci-fi", "year": 1979}), 200)
    assert any(m["movie_id"] == 1214 for m in scifi_1979["items"])  # Alien (1979)
    assert all("Sci-Fi" in m["genres"] and m["year"] == 1979 for m in scifi_1979["items"])
    odd = expect(await api.get("/movies", params={"q": "%_'\"; DROP TABLE movies"}), 200)
    assert odd["total"] == 0


async def test_search_by_relevance(api: httpx.AsyncClient) -> None:
    """Titles as people type them: article moved, punctuation folded, exact first, typos."""
    for q, first in (("the incredibles", 8961), ("wall-e", 60069), ("Up", 68954)):
        page = (await api.get("/movies", params={"q": q, "limit": 5})).json()
        assert page["items"][0]["movie_id"] == first, (q, page["items"])
    star = (await api.get("/movies", params={"q": "star wars", "limit": 3})).json()
    assert [m["movie_id"] for m in star["items"]][0] == 260
    typo = (await api.get("/movies", params={"q": "shawshenk"})).json()
    assert typo["items"][0]["movie_id"] == 318
    end = (await api.get("/movies", params={"q": "love", "offset": 5000})).json()
    assert end["total"] > 0 and end["items"] == []
    page = await api.get("/search", params={"q": "love", "page": 999})
    assert "past the end" in page.text and "No movie matches" not in page.text


async def test_detail_has_genres_links_and_trailer(api: httpx.AsyncClient) -> None:
    movie = expect(await api.get("/movies/1"), 200)
    assert movie["title"].startswith("Toy Story") and movie["year"] == 1995
    assert "Animation" in movie["genres"]
    assert movie["links"]["imdb"].endswith("tt0114709/")
    assert movie["youtube_id"] and movie["links"]["youtube"]


async def test_similar_movies_share_genres(api: httpx.AsyncClient, stack: Stack) -> None:
    alien = set(expect(await api.get("/movies/1214"), 200)["genres"])  # Horror, Sci-Fi
    reply = expect(await api.get("/movies/1214/similar", params={"limit": 10}), 200)
    assert not reply["degraded"] and len(reply["items"]) == 10
    assert all(item["movie_id"] != 1214 for item in reply["items"])
    shared = [(i["title"], sorted(alien & set(i["genres"]))) for i in reply["items"]]
    assert all(genres for _, genres in shared), shared
    assert reply["items"][0]["reason"].startswith("Similar to Alien")


async def test_list_add_is_idempotent_and_remove(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    for _ in range(2):
        assert (await api.put("/me/list/1214", headers=auth)).status_code == 204
    assert (await api.put("/me/list/1", headers=auth)).status_code == 204
    items = expect(await api.get("/me/list", headers=auth), 200)
    assert sorted(i["movie_id"] for i in items) == [1, 1214]
    assert (await api.delete("/me/list/1214", headers=auth)).status_code == 204
    assert (await api.delete("/me/list/1214", headers=auth)).status_code == 404
    assert [i["movie_id"] for i in expect(await api.get("/me/list", headers=auth), 200)] == [1]


async def test_ratings_and_events_are_stored(api: httpx.AsyncClient, stack: Stack) -> None:
    user_id, auth = await sign_up(api)
    assert (await api.put("/me/ratings/1", json={"rating": 3.5}, headers=auth)).status_code == 200
    again = await api.put("/me/ratings/1", json={"rating": 4.5}, headers=auth)
    assert again.json()["rating"] == 4.5
    ratings = expect(await api.get("/me/ratings", headers=auth), 200)
    assert [(r["movie_id"], r["rating"]) for r in ratings] == [(1, 4.5)]
    for kind in ("view", "click", "view"):
        reply = await api.post("/me/events", json={"movie_id": 2, "event": kind}, headers=auth)
        assert reply.status_code == 202
    bad = await api.post("/me/events", json={"movie_id": 2, "event": "like"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "event"
    engine = create_sync_engine(stack.db_url)
    ri = rating_implicit.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(ri.movie_id, ri.event, ri.event_count)
            .where(ri.user_id == user_id)
            .order_by(ri.movie_id, ri.event)
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "rating", 2), (2, "click", 1), (2, "view", 2)]


async def test_not_interested_hides_from_every_strategy_and_is_reversible(
    api: httpx.AsyncClient,
) -> None:
    _, auth = await sign_up(api)
    assert (await api.put("/me/list/1214", headers=auth)).status_code == 204
    strategies = ("blend", "content", "cf", "ncf", "item2item", "popular")

    async def ids(strategy: str) -> list[int]:
        reply = await api.get(
            "/me/recommendations", params={"strategy": strategy, "limit": 20}, headers=auth
        )
        return [i["movie_id"] for i in reply.json()["items"]]

    before = {s: await ids(s) for s in strategies}  # now cached
    hide = {items[0] for items in before.values() if items}
    for movie_id in hide:
        assert (await api.put(f"/me/not-interested/{movie_id}", headers=auth)).status_code == 204
    assert (await api.put("/me/not-interested/999999999", headers=auth)).status_code == 404
    hidden = (await api.get("/me/not-interested", headers=auth)).json()
    assert {h["movie_id"] for h in hidden} == hide and all(h["title"] for h in hidden)
    for strategy in strategies:  # the cache was invalidated: every list is recomputed
        assert not set(await ids(strategy)) & hide, strategy
    back = next(iter(hide))
    assert (await api.delete(f"/me/not-interested/{back}", headers=auth)).status_code == 204
    assert (await api.delete(f"/me/not-interested/{back}", headers=auth)).status_code == 404
    assert back in {m for s in strategies for m in await ids(s)}
