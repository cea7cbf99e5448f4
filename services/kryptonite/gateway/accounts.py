"""Accounts: sign up, sign in (rate-limited), sign out, change the password; the one
implementation the JSON API (``routes/auth.py``) and the web forms
(``web/auth_pages.py``) both call.

Input rules are :class:`~kryptonite.gateway.schemas.RegisterIn`'s (the API validates the
body with it, the sign-up form builds one). Refusals are typed errors; each caller words
them (JSON error or HTML page) and issues the token its own way (bearer or cookie).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kryptonite.gateway.security import TokenUser, hash_password, verify_password
from kryptonite.store import queries

if TYPE_CHECKING:
    from kryptonite.gateway.ratelimit import LoginLimiter
    from kryptonite.gateway.schemas import RegisterIn
    from kryptonite.gateway.state import GatewayState


class AccountError(Exception):
    """A refused account operation."""


class AccountTaken(AccountError):
    """The username or e-mail is already registered."""


class WrongCredentials(AccountError):
    """Sign-in: no such user, or the wrong password (not told apart)."""


class TooManyAttempts(AccountError):
    """Sign-in refused by the rate limit, the right password too: wait ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s)
        self.retry_after_s = retry_after_s


class WrongPassword(AccountError):
    """Password change: the current password given is not the account's."""


@dataclass(frozen=True)
class Account:
    user_id: int
    username: str
    email: str | None = None


async def sign_up(state: GatewayState, details: RegisterIn) -> Account:
    """Create the account (argon2-hashed password); :class:`AccountTaken` when the
    username or e-mail is registered already."""
    password_hash = await hash_password(details.password)
    try:
        user_id = await state.transact(
            lambda conn: queries.create_user(conn, details.username, details.email, password_hash)
        )
    except queries.UsernameTaken:
        raise AccountTaken from None
    return Account(user_id, details.username, details.email)


async def sign_in(
    state: GatewayState, limiter: LoginLimiter, username: str, password: str, ip: str | None
) -> Account:
    """The account when the password is right. The attempt is counted first
    (:class:`TooManyAttempts` while over a limit), a right password takes it back;
    :class:`WrongCredentials` otherwise."""
    wait = await limiter.attempt(username, ip)
    if wait is not None:
        raise TooManyAttempts(wait)
    async with state.read() as conn:
        user = await queries.user_by_username(conn, username)
    # A missing user is checked against a dummy hash: timing does not reveal usernames.
    stored = user["password_hash"] if user else None
    if not await verify_password(password, stored) or not user:
        raise WrongCredentials
    await limiter.succeeded(username, ip)
    return Account(int(user["user_id"]), user["username"], user.get("email"))


def issue_token(state: GatewayState, account: Account) -> str:
    """A signed, expiring token for the account (bearer token or session cookie)."""
    return state.tokens.issue(account.user_id, account.username)


async def sign_out(state: GatewayState, user: TokenUser) -> None:
    """Revoke the token ``user`` came with (every replica refuses it from now on)."""
    await state.tokens.revocations.revoke_token(user.jti, user.expires_at)


async def change_password(state: GatewayState, user_id: int, current: str, new: str) -> None:
    """Set a new password when ``current`` is right (:class:`WrongPassword` else), then
    revoke every token and session of the account issued before."""
    async with state.read() as conn:
        row = await queries.user_by_id(conn, user_id)
    if not row or not await verify_password(current, row["password_hash"]):
        raise WrongPassword
    password_hash = await hash_password(new)
    await state.transact(lambda conn: queries.set_password_hash(conn, user_id, password_hash))
    await state.tokens.revocations.revoke_user(user_id)
