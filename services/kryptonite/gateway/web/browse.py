"""Pages anyone can see: home rows, search, a movie."""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Path, Query, Request, Response

from kryptonite.gateway.deps import DbDep, StateDep
from kryptonite.gateway.library import MovieNotFound
from kryptonite.gateway.recommend import Orchestrator
from kryptonite.gateway.search import search_movies
from kryptonite.gateway.web import data
from kryptonite.gateway.web.errors import WebRoute
from kryptonite.gateway.web.render import display_title, render
from kryptonite.gateway.web.session import current_user
from kryptonite.store import queries

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAGE = 24
RATINGS = [x / 2 for x in range(1, 11)]


async def _listed(request: Request, db) -> set[int]:
    user = current_user(request)
    if user is None:
        return set()
    return {m for m, _ in await queries.list_get(db, user.user_id)}


async def _hidden(request: Request, db) -> set[int]:
    """Movies the signed-in user is not interested in (kept out of every row)."""
    user = current_user(request)
    if user is None:
        return set()
    return {m for m, _ in await queries.not_interested(db, user.user_id)}


@router.get("/")
async def home(request: Request, state: StateDep, db: DbDep) -> Response:
    rows = await data.home_rows(state, db)
    user = current_user(request)
    if user is not None:
        hidden = await _hidden(request, db)
        rows = [await data.personal_row(state, user.user_id), *rows]
        rows = [r.without(hidden) for r in rows]
    return render(request, "home.html", {"title": "Kryptonite", "rows": rows})


@router.get("/search")
async def search(
    request: Request,
    state: StateDep,
    db: DbDep,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    q = q.strip()
    total, items = 0, []
    if q:
        total, items = await search_movies(state, db, q=q, limit=PAGE, offset=(page - 1) * PAGE)
        pics = await data.posters(db, [i["movie_id"] for i in items])
        items = [i | {"poster_path": pics.get(i["movie_id"])} for i in items]
    ctx = {
        "title": f"Search: {q}" if q else "Search",
        "q": q,
        "items": items,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE)),
        "listed": await _listed(request, db),
    }
    return render(request, "search.html", ctx)


@router.get("/movie/{movie_id}")
async def movie(
    request: Request,
    state: StateDep,
    db: DbDep,
    movie_id: Annotated[int, Path(gt=0, le=2**31 - 1)],
) -> Response:
    row = await queries.movie_detail(db, movie_id)
    if row is None:
        raise MovieNotFound(movie_id)
    similar, similar_notice = [], None
    try:
        items, degraded = await Orchestrator(state).similar(movie_id, 12)
        similar = await data.add_posters(state, [i.model_dump() for i in items])
        if degraded:
            similar_notice = data.degraded_words("content_unavailable", "similar")
    except grpc.aio.AioRpcError:
        similar_notice = "We don't know enough about this movie yet to suggest similar ones."
    user = current_user(request)
    rating = None
    hidden = await _hidden(request, db)
    similar = [m for m in similar if m["movie_id"] not in hidden]
    if user is not None:
        mine = await queries.ratings_of(db, user.user_id)
        rating = next((r for m, r, _ in mine if m == movie_id), None)
    ctx = {
        "title": display_title(row["title"]),
        "movie": row,
        "similar": similar,
        "similar_notice": similar_notice,
        "listed": await _listed(request, db),
        "rating": rating,
        "ratings": RATINGS,
        "hidden": movie_id in hidden,
    }
    return render(request, "movie.html", ctx)
