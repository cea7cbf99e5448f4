"""``Annotated`` dependency aliases used by the routes.

All are ``async def``: FastAPI runs plain ``def`` dependencies in a thread pool, which
costs a thread hop per dependency per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from kryptonite.config import Settings
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.security import TokenUser
from kryptonite.gateway.state import GatewayState

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def get_state_now(request: Request) -> GatewayState:
    """The app's state, without a dependency (hot paths: each dependency costs)."""
    return request.app.state.gateway


async def get_state(request: Request) -> GatewayState:
    return request.app.state.gateway


StateDep = Annotated[GatewayState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_db(state: StateDep) -> AsyncIterator[AsyncConnection]:
    """A read connection (writes use ``state.engine.begin()`` explicitly, then invalidate)."""
    async with state.engine.connect() as conn:
        yield conn


DbDep = Annotated[AsyncConnection, Depends(get_db)]
SessionDep = DbDep


async def get_current_user(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> TokenUser:
    """The caller proven by the bearer token (no database read: works while MySQL is down)."""
    bearer = {"WWW-Authenticate": "Bearer"}
    if not token:
        raise ApiError(
            401, "not authenticated: send 'Authorization: Bearer <token>'", headers=bearer
        )
    user = get_state_now(request).tokens.check(token)
    if user is None:
        raise ApiError(401, "invalid or expired token", headers=bearer)
    return user


CurrentUser = Annotated[TokenUser, Depends(get_current_user)]
