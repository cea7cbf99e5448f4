"""Signed-in forms: "Not interested" (hide a movie from every recommendation row) and undo."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from kryptonite.gateway.deps import MovieId, StateDep
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.routes.mylist import invalidate
from kryptonite.gateway.web.errors import WebRoute
from kryptonite.gateway.web.personal import OptText, WebUser, _back
from kryptonite.gateway.web.session import check_csrf
from kryptonite.store import queries

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.post("/movie/{movie_id}/not-interested")
async def hide(
    request: Request,
    movie_id: MovieId,
    user: WebUser,
    state: StateDep,
    csrf: OptText = None,
    next: OptText = None,
) -> Response:
    check_csrf(request, csrf)
    async with state.write() as conn:
        if not await queries.movie_exists(conn, movie_id):
            raise ApiError(404, f"There is no movie with id {movie_id}.")
        await queries.not_interested_add(conn, user.user_id, movie_id)
    await invalidate(state, user.user_id)
    return _back(next, movie_id, "hidden")


@router.post("/movie/{movie_id}/not-interested/remove")
async def unhide(
    request: Request,
    movie_id: MovieId,
    user: WebUser,
    state: StateDep,
    csrf: OptText = None,
    next: OptText = None,
) -> Response:
    check_csrf(request, csrf)
    async with state.write() as conn:
        await queries.not_interested_remove(conn, user.user_id, movie_id)
    await invalidate(state, user.user_id)
    return _back(next, movie_id, "unhidden")
