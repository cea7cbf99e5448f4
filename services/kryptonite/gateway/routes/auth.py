"""Accounts: register, sign in (OAuth2 password flow, rate-limited), sign out, change the
password (both revoke tokens), me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from kryptonite.gateway import accounts
from kryptonite.gateway.deps import (
    CurrentUser,
    DbDep,
    LoginLimiterDep,
    StateDep,
    client_ip,
    too_many_sign_ins,
)
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.schemas import PasswordChangeIn, RegisterIn, TokenOut, UserOut
from kryptonite.store import queries

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def register(body: RegisterIn, state: StateDep) -> UserOut:
    """Create an account; 409 when the username or e-mail is taken."""
    try:
        account = await accounts.sign_up(state, body)
    except accounts.AccountTaken:
        raise ApiError(409, "username or e-mail already registered") from None
    return UserOut(user_id=account.user_id, username=account.username, email=account.email)


@router.post("/token", response_model=TokenOut)
async def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    state: StateDep,
    limiter: LoginLimiterDep,
) -> TokenOut:
    """OAuth2 password flow: a signed bearer token that expires. 429 (with Retry-After)
    after too many failed attempts for this username or from this address."""
    try:
        account = await accounts.sign_in(
            state, limiter, form.username, form.password, client_ip(request)
        )
    except accounts.TooManyAttempts as exc:
        raise too_many_sign_ins(exc.retry_after_s) from None
    except accounts.WrongCredentials:
        raise ApiError(
            401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"}
        ) from None
    access = accounts.issue_token(state, account)
    return TokenOut(access_token=access, expires_in=state.tokens.ttl_s)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser, db: DbDep) -> UserOut:
    row = await queries.user_by_id(db, user.user_id)
    if row is None:
        raise ApiError(401, "account no longer exists")
    return UserOut(user_id=row["user_id"], username=row["username"], email=row["email"])


@router.post("/signout", status_code=status.HTTP_204_NO_CONTENT)
async def signout(user: CurrentUser, state: StateDep) -> Response:
    """Revoke the token this request carries (every replica refuses it from now on)."""
    await accounts.sign_out(state, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChangeIn, user: CurrentUser, state: StateDep) -> Response:
    """Set a new password (the current one is required); every token and web session of
    the account issued before it stops working, this request's too: sign in again."""
    try:
        await accounts.change_password(
            state, user.user_id, body.current_password, body.new_password
        )
    except accounts.WrongPassword:
        raise ApiError(403, "the current password is wrong") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
