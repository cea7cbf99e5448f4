"""``Annotated`` dependency aliases used by the routes.

All are ``async def``: FastAPI runs plain ``def`` dependencies in a thread pool, which
costs a thread hop per dependency per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.ratelimit import LoginLimiter, wait_words
from kryptonite.gateway.schemas import MAX_ID
from kryptonite.gateway.security import TokenUser
from kryptonite.gateway.state import GatewayState


def get_state_now(request: Request) -> GatewayState:
    """The app's state, without a dependency (hot paths: each dependency costs)."""
    return request.app.state.gateway


async def get_state(request: Request) -> GatewayState:
    return request.app.state.gateway


StateDep = Annotated[GatewayState, Depends(get_state)]


async def get_db(state: StateDep) -> AsyncIterator[AsyncConnection]:
    """A read connection under the database deadline (``state.read()``): a hung database
    answers 503 after ``db_timeout_s``, not whenever it wakes up. Writes use
    ``state.write()`` explicitly, then invalidate."""
    async with state.read() as conn:
        yield conn


DbDep = Annotated[AsyncConnection, Depends(get_db)]


class BearerUser(OAuth2PasswordBearer):
    """The OAuth2 bearer scheme that also checks the token: the caller proven by it (no
    database read, so it works while MySQL is down). One dependency instead of scheme +
    check: it runs on every signed-in request, and each dependency level costs."""

    async def __call__(self, request: Request) -> TokenUser:  # type: ignore[override]
        bearer = {"WWW-Authenticate": "Bearer"}
        token = await super().__call__(request)
        if not token:
            raise ApiError(
                401, "not authenticated: send 'Authorization: Bearer <token>'", headers=bearer
            )
        user = get_state_now(request).tokens.check(token)
        if user is None:
            raise ApiError(401, "invalid or expired token", headers=bearer)
        return user


get_current_user = BearerUser(
    tokenUrl="/auth/token", scheme_name="OAuth2PasswordBearer", auto_error=False
)
CurrentUser = Annotated[TokenUser, Depends(get_current_user)]


async def get_login_limiter(request: Request) -> LoginLimiter:
    return request.app.state.login_limiter


LoginLimiterDep = Annotated[LoginLimiter, Depends(get_login_limiter)]


def client_ip(request: Request) -> str | None:
    """The caller's address (uvicorn puts the proxy's ``X-Forwarded-For`` here when the
    proxy is trusted via ``forwarded_allow_ips``)."""
    return request.client.host if request.client else None


def too_many_sign_ins(retry_after_s: int) -> ApiError:
    """The 429 of a rate-limited sign-in, with ``Retry-After``."""
    return ApiError(
        429,
        f"too many failed sign-in attempts; try again in {wait_words(retry_after_s)}",
        headers={"Retry-After": str(retry_after_s)},
    )


#: A movie id in a path: MovieLens movieId, 1 … MAX_ID (a 422 beyond).
MovieId = Annotated[int, Path(gt=0, le=MAX_ID, description="MovieLens movieId")]
