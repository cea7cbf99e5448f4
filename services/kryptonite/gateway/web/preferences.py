"""Signed-in forms: "Not interested" (hide a movie from every recommendation row) and undo."""

from __future__ import annotations

from fastapi import APIRouter

from kryptonite.gateway import library
from kryptonite.gateway.web.errors import WebRoute
from kryptonite.gateway.web.personal import movie_form

router = APIRouter(route_class=WebRoute, include_in_schema=False)


movie_form(router, "/movie/{movie_id}/not-interested", library.hide, "hidden")
# un-hiding a movie that is not hidden: nothing to do
movie_form(router, "/movie/{movie_id}/not-interested/remove", library.unhide, "unhidden")
