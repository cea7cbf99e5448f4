"""Errors of the web pages as HTML pages in words (the JSON API keeps its JSON shape)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

import grpc
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError

from kryptonite.gateway.errors import ApiError, is_db_outage
from kryptonite.gateway.library import MovieNotFound
from kryptonite.gateway.web.render import render
from kryptonite.gateway.web.session import CsrfRejected, SignInRequired

log = logging.getLogger("kryptonite.gateway.web")

DB_DOWN = (
    "We can't reach your movies right now, so your change may not have been saved. "
    "Please try again in a moment."
)
SERVICE_DOWN = "Recommendations are taking a short break. Please try again in a moment."
CSRF = (
    "This form expired or came from another site, so it was not accepted. "
    "Reload the page and try again."
)


def _field_errors(exc: RequestValidationError) -> str:
    """In words, without pydantic's wording (that goes to the log)."""
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        name = loc[-1].replace("_", " ") if loc else ""
        if name and name not in fields:
            fields.append(name)
    log.info("invalid web request: %s", exc.errors())
    if not fields:
        return "Something in that request isn't right. Please go back and try again."
    return (
        f"That link or form has a value we can't use ({', '.join(fields)}). "
        "Please go back and try again."
    )


def error_page(request: Request, status: int, message: str) -> Response:
    titles = {403: "Not allowed", 404: "Not found", 422: "Invalid input", 503: "Unavailable"}
    title = titles.get(status, "Something went wrong")
    return render(request, "error.html", {"title": title, "message": message}, status)


class WebRoute(APIRoute):
    """A route whose failures render an HTML page instead of the API's JSON error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = quote(request.url.path, safe="/")
                return RedirectResponse(f"/signin?next={target}", status_code=303)
            except CsrfRejected:
                return error_page(request, 403, CSRF)
            except ApiError as exc:
                return error_page(request, exc.status, exc.message)
            except MovieNotFound as exc:
                return error_page(request, 404, f"There is no movie with id {exc.movie_id}.")
            except RequestValidationError as exc:
                return error_page(request, 422, _field_errors(exc))
            except grpc.aio.AioRpcError as exc:
                log.warning("web page %s: downstream %s", request.url.path, exc.code().name)
                return error_page(request, 503, SERVICE_DOWN)
            except (SQLAlchemyError, OSError) as exc:
                if not is_db_outage(exc):
                    raise
                log.warning("web page %s: database %s", request.url.path, type(exc).__name__)
                return error_page(request, 503, DB_DOWN)

        return page
