"""Request bodies are capped while they stream in: a body over ``max_body_bytes`` is
answered 413 before any of it is parsed, on every route (JSON API and web forms alike).

A declared ``Content-Length`` over the cap is refused before any of it is parsed; a
chunked or understated body is cut off at the first chunk that crosses it (the receive
callable raises a 413 ``HTTPException``, which FastAPI passes through untouched and the
app's handler answers in the one JSON error shape).

Before the 413 the rest of the body is read and dropped, up to ``DRAIN_BYTES`` and while
it keeps coming (``DRAIN_IDLE_S``): most clients send the whole body before they read the
answer, and would otherwise see the connection reset instead of the 413. Nothing is kept
or parsed, so memory stays flat; past the drain budget the connection is closed.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kryptonite.gateway.errors import error_body

CODE = "payload_too_large"
#: Most of a refused body read (and dropped) so the client gets to read the 413.
DRAIN_BYTES = 16 * 1024 * 1024
#: Stop draining when the client pauses this long (it is waiting for the answer).
DRAIN_IDLE_S = 0.5


async def _drain(receive: Receive, budget: int = DRAIN_BYTES) -> None:
    """Read and drop the rest of the body, up to ``budget`` bytes, while it keeps coming."""
    left = budget
    while left > 0:
        try:
            async with asyncio.timeout(DRAIN_IDLE_S):
                message = await receive()
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return
        left -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def too_large(limit: int) -> str:
    return f"request body larger than {limit} bytes"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body crosses the cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    """ASGI middleware enforcing ``max_bytes`` on every HTTP request body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _drain(receive)
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if message.get("more_body", False):
                        await _drain(receive)
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Read outside a route (a middleware): answer here if nothing was sent yet.
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            error_body(CODE, too_large(self.max_bytes)),
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
