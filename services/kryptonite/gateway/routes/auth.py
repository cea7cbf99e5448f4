"""Accounts: register, sign in (OAuth2 password flow), me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from kryptonite.gateway.deps import CurrentUser, DbDep, StateDep
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.schemas import RegisterIn, TokenOut, UserOut
from kryptonite.gateway.security import hash_password, verify_password
from kryptonite.store import queries

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def register(body: RegisterIn, state: StateDep) -> UserOut:
    """Create an account; 409 when the username or e-mail is taken."""
    password_hash = hash_password(body.password)
    try:
        async with state.write() as conn:
            user_id = await queries.create_user(conn, body.username, body.email, password_hash)
    except queries.UsernameTaken:
        raise ApiError(409, "username or e-mail already registered") from None
    return UserOut(user_id=user_id, username=body.username, email=body.email)


@router.post("/token", response_model=TokenOut)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], state: StateDep, db: DbDep
) -> TokenOut:
    """OAuth2 password flow: a signed bearer token that expires."""
    user = await queries.user_by_username(db, form.username)
    if not verify_password(form.password, user["password_hash"] if user else None) or not user:
        raise ApiError(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    access = state.tokens.issue(int(user["user_id"]), user["username"])
    return TokenOut(access_token=access, expires_in=state.tokens.ttl_s)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser, db: DbDep) -> UserOut:
    row = await queries.user_by_id(db, user.user_id)
    if row is None:
        raise ApiError(401, "account no longer exists")
    return UserOut(user_id=row["user_id"], username=row["username"], email=row["email"])
