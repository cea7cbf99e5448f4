"""One JSON error shape for every failure: ``{"error": {"code", "message"}}``.

Routes raise :class:`ApiError` (or let a known exception through); the handlers here are
the only place that turns exceptions into HTTP responses. No stack trace ever leaves.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from kryptonite.gateway.library import MovieNotFound
from kryptonite.gateway.schemas import ErrorOut

log = logging.getLogger("kryptonite.gateway")

#: google/rpc/code.proto → HTTP, the one mapping of downstream gRPC failures.
GRPC_TO_HTTP: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
    504: "deadline_exceeded",
}
#: A write cut off around its commit may have landed, so the message does not claim what
#: the gateway cannot know; list and rating writes are idempotent PUTs, safe to retry.
DB_DOWN_MESSAGE = (
    "the database is unavailable; your change may not have been saved, please retry later"
)


class ApiError(Exception):
    """An error meant for the client: status, machine code and a safe message."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _HTTP_CODES.get(status, "error")
        self.message = message
        self.headers = headers


def from_grpc(exc: grpc.aio.AioRpcError, what: str) -> ApiError:
    """The HTTP error for a downstream gRPC failure (by the table above)."""
    status = GRPC_TO_HTTP.get(exc.code(), 502)
    detail = exc.details() if status in (400, 404) else exc.code().name
    return ApiError(status, f"{what}: {detail}")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def _field(error: dict) -> str:
    """The offending field's dotted name ("body" for a body that is not JSON at all)."""
    if error.get("type") == "json_invalid":
        return "body"
    loc = error.get("loc", ())
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _response(exc.status, exc.code, exc.message, exc.headers)


async def _movie_not_found(_: Request, exc: Exception) -> JSONResponse:
    """An unknown movie id, raised by the routes and the library writes alike."""
    assert isinstance(exc, MovieNotFound)
    return _response(404, "not_found", f"movie {exc.movie_id} not found")


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """The methods some route accepts at this path. Starlette's 405 names only those of
    the first route matching the path (PUT for ``/me/list/{id}``, which also has DELETE)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) else _HTTP_CODES.get(status, "error")
    headers = exc.headers
    if status == 405 and (allowed := _allowed_methods(request)):
        headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return _response(status, _HTTP_CODES.get(status, "error"), message, headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    field = _field(first)
    body = error_body("validation_error", f"{field}: {first.get('msg', 'invalid')}")
    body["error"]["field"] = field
    body["error"]["fields"] = [_field(e) for e in errors]
    return JSONResponse(body, status_code=422)


async def _db_error(request: Request, exc: Exception) -> JSONResponse:
    if is_write_conflict(exc):  # still conflicting after GatewayState.transact's retries
        return _response(409, "write_conflict", CONFLICT_MESSAGE, {"Retry-After": "1"})
    log.warning("database error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return _response(503, "database_unavailable", DB_DOWN_MESSAGE, {"Retry-After": "5"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _response(500, "internal", "internal error")


#: MySQL/MariaDB: deadlock found (1213), lock wait timeout (1205); SQLite: "database is
#: locked". The database rolled the transaction back; running it again is safe.
_CONFLICT_ERRNOS = {1205, 1213}
CONFLICT_MESSAGE = "a concurrent change to the same data conflicted; please retry"


def is_write_conflict(exc: BaseException) -> bool:
    """True for a deadlock or lock timeout (a retryable conflict, not an outage)."""
    if not isinstance(exc, OperationalError):
        return False
    args = getattr(exc.orig, "args", ())
    if args and args[0] in _CONFLICT_ERRNOS:
        return True
    return "database is locked" in str(exc.orig)


def is_db_outage(exc: BaseException) -> bool:
    """True for errors meaning "cannot reach the database" (not bad SQL or constraints)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return not is_write_conflict(exc)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, ConnectionError | TimeoutError)


#: Documented on every operation: FastAPI would otherwise advertise its own 422 body
#: (``{"detail": [...]}``), which the handlers above never send.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": ErrorOut,
        "description": "Client error (401 unauthenticated, 403 not yours, 404 unknown, "
        "409 conflict, 422 invalid field, 429 slow down …)",
    },
    "5XX": {
        "model": ErrorOut,
        "description": "Server or dependency failure (503 database unavailable, …)",
    },
}


def install(app: FastAPI) -> None:
    """Register every handler on ``app`` and document the error body on every route
    included afterwards."""
    app.router.responses = {**ERROR_RESPONSES, **app.router.responses}
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(MovieNotFound, _movie_not_found)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _db_error)
    app.add_exception_handler(InterfaceError, _db_error)
    app.add_exception_handler(ConnectionError, _db_error)
    app.add_exception_handler(TimeoutError, _db_error)  # only database work has a timeout
    app.add_exception_handler(Exception, _unexpected)
