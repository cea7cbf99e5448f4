"""Signed-in forms: "Not interested" (hide a movie from every recommendation row) and undo."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from kryptonite.gateway import library
from kryptonite.gateway.deps import MovieId, StateDep
from kryptonite.gateway.web.errors import WebRoute
from kryptonite.gateway.web.personal import OptText, WebUser, _back
from kryptonite.gateway.web.session import check_csrf

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
    await library.hide(state, user.user_id, movie_id)
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
    await library.unhide(state, user.user_id, movie_id)  # not hidden: nothing to do
    return _back(next, movie_id, "unhidden")
