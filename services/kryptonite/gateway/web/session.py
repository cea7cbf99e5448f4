"""Browser session and CSRF protection for the web pages.

The session cookie carries the same signed token the JSON API accepts as a bearer token
(HttpOnly, SameSite=Lax, Secure on https). Every form also carries a per-browser CSRF
token (double submit: hidden field == ``kr_csrf`` cookie) and a foreign ``Origin`` is
refused, so a cross-site form post cannot act for the user.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

from kryptonite.gateway.security import TokenUser

SESSION_COOKIE = "kr_session"
CSRF_COOKIE = "kr_csrf"
CSRF_FIELD = "csrf"


class SignInRequired(Exception):
    """A page needs a signed-in user; the web route answers with a redirect to sign in."""


class CsrfRejected(Exception):
    """A form post without a valid CSRF token, or from a foreign origin."""


def current_user(request: Request) -> TokenUser | None:
    """The signed-in user from the session cookie (no database read), or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return request.app.state.gateway.tokens.check(token)


def require_user(request: Request) -> TokenUser:
    user = current_user(request)
    if user is None:
        raise SignInRequired
    return user


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(request: Request, response: Response, token: str, ttl_s: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ttl_s,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (a new one is stored by :func:`store_csrf`)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


def store_csrf(request: Request, response: Response) -> None:
    """Set the CSRF cookie when this request created the token."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/"
        )


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    # netloc only: behind a TLS-terminating proxy the scheme seen here may differ.
    return urlsplit(origin).netloc == request.url.netloc


def _raw(value: str) -> bytes:
    """Bytes for ``hmac.compare_digest``, which refuses str with non-ASCII characters."""
    return value.encode("utf-8", "surrogatepass")


def check_csrf(request: Request, submitted: str | None) -> None:
    """Raise :class:`CsrfRejected` unless the form token matches and the origin is ours."""
    expected = request.cookies.get(CSRF_COOKIE)
    if not expected or not submitted or not hmac.compare_digest(_raw(expected), _raw(submitted)):
        raise CsrfRejected
    if not _same_origin(request):
        raise CsrfRejected


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after a form (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
