"""Accounts: register, sign in (OAuth2 password flow, rate-limited), sign out, change the
password (both revoke tokens), me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

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
from kryptonite.gateway.security import hash_password, verify_password
from kryptonite.store import queries

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def register(body: RegisterIn, state: StateDep) -> UserOut:
    """Create an account; 409 when the username or e-mail is taken."""
    password_hash = await hash_password(body.password)
    try:
        user_id = await state.transact(
            lambda conn: queries.create_user(conn, body.username, body.email, password_hash)
        )
    except queries.UsernameTaken:
        raise ApiError(409, "username or e-mail already registered") from None
    return UserOut(user_id=user_id, username=body.username, email=body.email)


@router.post("/token", response_model=TokenOut)
async def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    state: StateDep,
    db: DbDep,
    limiter: LoginLimiterDep,
) -> TokenOut:
    """OAuth2 password flow: a signed bearer token that expires. 429 (with Retry-After)
    after too many failed attempts for this username or from this address."""
    ip = client_ip(request)
    wait = await limiter.attempt(form.username, ip)
    if wait is not None:
        raise too_many_sign_ins(wait)
    user = await queries.user_by_username(db, form.username)
    # A missing user is checked against a dummy hash: timing does not reveal usernames.
    stored = user["password_hash"] if user else None
    if not await verify_password(form.password, stored) or not user:
        raise ApiError(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    await limiter.succeeded(form.username, ip)
    access = state.tokens.issue(int(user["user_id"]), user["username"])
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
    await state.tokens.revocations.revoke_token(user.jti, user.expires_at)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordChangeIn, user: CurrentUser, state: StateDep) -> Response:
    """Set a new password (the current one is required); every token and web session of
    the account issued before it stops working, this request's too: sign in again."""
    async with state.read() as conn:
        row = await queries.user_by_id(conn, user.user_id)
    if not row or not await verify_password(body.current_password, row["password_hash"]):
        raise ApiError(403, "the current password is wrong")
    password_hash = await hash_password(body.new_password)
    await state.transact(lambda conn: queries.set_password_hash(conn, user.user_id, password_hash))
    await state.tokens.revocations.revoke_user(user.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
