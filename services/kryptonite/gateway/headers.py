"""Security headers on every response, and CORS from settings.

:class:`SecurityHeadersMiddleware` is pure ASGI (no ``BaseHTTPMiddleware``: that one
costs a task and a stream per request on the hot path). It adds a header only where the
response did not set it already.

The Content-Security-Policy fits the server-rendered UI: scripts and styles from our
``/static`` only (no inline script anywhere), inline ``style="…"`` attributes (title-card
colours), TMDB poster images, the click-to-load YouTube (nocookie) trailer frame, forms
posting to ourselves, and no framing by anyone. ``/docs`` (gateway/docs.py) serves Swagger
UI's own assets without inline script, so it gets the same page policy.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kryptonite.config import Settings

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data: https://image.tmdb.org",
        "frame-src https://www.youtube-nocookie.com",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
#: What an API (non-HTML) response needs, as the OWASP REST cheat sheet lists it: no
#: sniffing, never framed, nothing loaded (a short policy: the JSON hot path pays for every
#: header byte).
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)
#: Headers that only mean something for a document a browser renders.
_DOCUMENT: tuple[tuple[bytes, bytes], ...] = (
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_CSP = (b"content-security-policy", CSP.encode())
_API_CSP = (b"content-security-policy", API_CSP.encode())
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeadersMiddleware:
    """Adds the headers above: to HTML the page policy and the document headers, to
    everything else the API policy; ``Cache-Control: no-store`` to answers of requests
    that carry credentials (a bearer token) unless the route chose a cache policy; HSTS
    on https."""

    def __init__(self, app: ASGIApp, no_csp_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.no_csp_paths = no_csp_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = not scope["path"].startswith(self.no_csp_paths)
        extra = list(_COMMON)
        if scope.get("scheme") == "https":
            extra.append(_HSTS)
        if any(name == b"authorization" for name, _ in scope["headers"]):
            extra.append(_NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower(): value for name, value in headers}
                html = present.get(b"content-type", b"").startswith(b"text/html")
                policy = ((_CSP if html else _API_CSP),) if csp else ()
                added = [*extra, *(_DOCUMENT if html else ()), *policy]
                headers.extend(h for h in added if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Security headers on every response; CORS only when origins are configured."""
    docs = tuple(p for p in (app.docs_url, app.redoc_url) if p)
    app.add_middleware(SecurityHeadersMiddleware, no_csp_paths=docs)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID"],
            allow_credentials=False,
            max_age=600,
        )
