"""Jinja2 environment and page rendering (user, CSRF token and notice in every page)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from kryptonite.gateway.web.session import CSRF_FIELD, csrf_token, current_user, store_csrf

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
#: Where stored TMDB poster paths are served from (the browser loads them; no server call).
POSTER_BASE = "https://image.tmdb.org/t/p/w342"

#: Notices after a form post: fixed texts chosen by key (nothing from the URL is echoed).
NOTICES = {
    "added": "Added to your list. Your recommendations are being refreshed.",
    "removed": "Removed from your list.",
    "rated": "Rating saved.",
    "hidden": "Got it: we won't recommend that movie to you. Undo it from My List.",
    "unhidden": "That movie can be recommended to you again.",
    "welcome": "Welcome! Add a few movies to your list to get recommendations.",
    "signed_in": "You are signed in.",
    "signed_out": "You are signed out.",
}


def title_hue(movie_id: int) -> int:
    """A stable colour for a generated title card."""
    return (movie_id * 47) % 360


_YEAR = re.compile(r"\s*\(\d{4}(?:[-–]\d{0,4})?\)\s*$")
_ARTICLE = re.compile(r"^(.*), (The|A|An|Les|La|Le|Il|Das|Der|Die|El|L')$")


def display_title(title: str | None) -> str:
    """MovieLens' "Matrix, The (1999)" as "The Matrix" (the year is shown on its own)."""
    if not title:
        return ""
    bare = _YEAR.sub("", title)
    found = _ARTICLE.match(bare)
    if found:
        sep = "" if found.group(2).endswith("'") else " "
        return f"{found.group(2)}{sep}{found.group(1)}"
    return bare


_ALT = re.compile(r"\s*\((?:a\.k\.a\.|aka)?[^()]*\)")


def short_title(title: str) -> str:
    """A card's title without alternative titles in parentheses ("Seven (a.k.a. Se7en)")."""
    return _ALT.sub("", title).strip() or title


def title_size(title: str) -> str:
    """A size class for a generated title card, so the longest word fits on one line
    (a word is never cut; long titles end with an ellipsis after a whole word)."""
    longest = max((len(w) for w in title.split()), default=0)
    if longest > 17 or len(title) > 56:
        return "tc-xs"
    if longest > 13 or len(title) > 40:
        return "tc-s"
    return "tc-m"


def poster_url(path: str | None) -> str | None:
    return f"{POSTER_BASE}{path}" if path else None


templates.env.globals.update(title_hue=title_hue, poster_url=poster_url, csrf_field=CSRF_FIELD)
templates.env.filters["movie_title"] = display_title
templates.env.filters["title_size"] = title_size
templates.env.filters["short_title"] = short_title


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render ``name`` with the signed-in user, the CSRF token and an optional notice."""
    ctx: dict[str, Any] = {
        "user": current_user(request),
        "csrf": csrf_token(request),
        "notice": NOTICES.get(request.query_params.get("notice", "")),
        "path": request.url.path,
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    store_csrf(request, response)
    return response
