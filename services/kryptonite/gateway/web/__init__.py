"""The web UI: server-rendered pages (Jinja2) with small hand-written JS and CSS.

``install(app)`` adds the pages and mounts ``/static``; everything is read through the
same queries and :class:`~kryptonite.gateway.recommend.Orchestrator` as the JSON API.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from kryptonite.gateway.errors import http_error
from kryptonite.gateway.web import auth_pages, browse, personal, preferences
from kryptonite.gateway.web.errors import error_page
from kryptonite.gateway.web.render import STATIC_DIR

NOT_FOUND = "There is no page at this address. Try the search box or the home page."


async def _not_found(request: Request, exc: Exception) -> Response:
    """An unknown address: a page in words for a browser, the JSON error for API clients."""
    if "text/html" in request.headers.get("accept", ""):
        return error_page(request, 404, NOT_FOUND)
    return await http_error(request, exc)


def install(app: FastAPI) -> None:
    """Add the web pages and ``/static`` to the gateway ``app``."""
    for module in (auth_pages, browse, personal, preferences):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(404, _not_found)
