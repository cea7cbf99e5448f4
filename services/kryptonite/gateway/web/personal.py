"""Signed-in pages and forms: My List (add/remove), rating, recommendation rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from kryptonite.gateway import library
from kryptonite.gateway.deps import DbDep, MovieId, StateDep
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.schemas import RatingIn
from kryptonite.gateway.security import TokenUser
from kryptonite.gateway.web import data
from kryptonite.gateway.web.errors import WebRoute
from kryptonite.gateway.web.render import render
from kryptonite.gateway.web.session import check_csrf, require_user, safe_next
from kryptonite.store import queries

router = APIRouter(route_class=WebRoute, include_in_schema=False)
WebUser = Annotated[TokenUser, Depends(require_user)]
OptText = Annotated[str | None, Form(max_length=512)]
#: A library write of one movie for one user (``library.add_to_list`` and the like).
MovieWrite = Callable[[Any, int, int], Awaitable[Any]]


def _back(next_url: str | None, movie_id: int, notice: str) -> RedirectResponse:
    """Back to the page of the form, scrolled to the movie when it is in a list."""
    target = safe_next(next_url, f"/movie/{movie_id}").split("#", 1)[0]
    sep = "&" if "?" in target else "?"
    anchor = "" if target.startswith("/movie/") else f"#m-{movie_id}"
    return RedirectResponse(f"{target}{sep}notice={notice}{anchor}", status_code=303)


@router.get("/my-list")
async def my_list(request: Request, user: WebUser, db: DbDep) -> Response:
    rows = await queries.list_get(db, user.user_id)
    items = await data.cards(db, [m for m, _ in rows])
    ratings = {m: r for m, r, _ in await queries.ratings_of(db, user.user_id)}
    listed = {i["movie_id"] for i in items}
    rated = await data.cards(db, [m for m in ratings if m not in listed])
    hidden = await data.cards(db, [m for m, _ in await queries.not_interested(db, user.user_id)])
    ctx = {
        "title": "My List",
        "items": items,
        "rated": rated,
        "hidden": hidden,
        "my_ratings": ratings,
        "ratings": [x / 2 for x in range(1, 11)],
    }
    return render(request, "mylist.html", ctx)


def movie_form(
    router: APIRouter, path: str, write: MovieWrite, notice: str
) -> Callable[..., Awaitable[Response]]:
    """Register ``POST path``: a signed-in form (CSRF-checked) that applies one library
    write to the movie, then goes back to the page it came from with ``notice``."""

    async def submit(
        request: Request,
        movie_id: MovieId,
        user: WebUser,
        state: StateDep,
        csrf: OptText = None,
        next: OptText = None,
    ) -> Response:
        check_csrf(request, csrf)
        await write(state, user.user_id, movie_id)
        return _back(next, movie_id, notice)

    submit.__name__ = f"{write.__name__}_form"
    return router.post(path)(submit)


movie_form(router, "/movie/{movie_id}/list", library.add_to_list, "added")
# removing a movie that is not listed: nothing to do
movie_form(router, "/movie/{movie_id}/list/remove", library.remove_from_list, "removed")


@router.post("/movie/{movie_id}/rating")
async def rate(
    request: Request,
    movie_id: MovieId,
    user: WebUser,
    state: StateDep,
    rating: Annotated[str, Form(max_length=8)],
    csrf: OptText = None,
    next: OptText = None,
) -> Response:
    check_csrf(request, csrf)
    try:
        value = RatingIn(rating=float(rating)).rating
    except (ValueError, ValidationError):
        raise ApiError(422, "A rating is 0.5 to 5 stars, in half stars.") from None
    await library.rate(state, user.user_id, movie_id, value)
    return _back(next, movie_id, "rated")


@router.get("/for-you")
async def for_you(request: Request, user: WebUser, state: StateDep) -> Response:
    hidden = await data.hidden_ids(state, user.user_id)
    rows = [r.without(hidden) for r in await data.recommendation_rows(state, user.user_id)]
    return render(request, "foryou.html", {"title": "For you", "rows": rows})
