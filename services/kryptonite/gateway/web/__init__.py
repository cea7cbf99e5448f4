"""The web UI: server-rendered pages (Jinja2) with small hand-written JS and CSS.

``install(app)`` adds the pages and mounts ``/static``; everything is read through the
same queries and :class:`~kryptonite.gateway.recommend.Recommender` as the JSON API.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kryptonite.gateway.web import auth_pages, browse, personal
from kryptonite.gateway.web.render import STATIC_DIR


def install(app: FastAPI) -> None:
    """Add the web pages and ``/static`` to the gateway ``app``."""
    for module in (auth_pages, browse, personal):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
