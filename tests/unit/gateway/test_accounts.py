"""Accounts on a real database (SQLite and MariaDB), the app's tokens and the sign-in
limiter (in-process counters): sign up, sign in, rate limit, sign out, password change."""

from __future__ import annotations

import pytest

from kryptonite.config import Settings
from kryptonite.gateway import accounts
from kryptonite.gateway.ratelimit import LoginLimiter
from kryptonite.gateway.schemas import RegisterIn
from kryptonite.gateway.security import verify_password
from kryptonite.gateway.state import GatewayState
from kryptonite.store import queries
from kryptonite.store.tables import APP_USER_ID_START

PASSWORD = "correct horse battery"  # pragma: allowlist secret
WRONG = "not the password"  # pragma: allowlist secret
IP = "192.0.2.10"


@pytest.fixture
def limiter(settings: Settings) -> LoginLimiter:
    return LoginLimiter(settings)  # no Redis: counts in this process


async def sign_up(state: GatewayState, name: str = "Alice", email: str | None = None):
    return await accounts.sign_up(state, RegisterIn(username=name, password=PASSWORD, email=email))


async def test_sign_up_stores_a_hash_and_refuses_a_taken_name_or_address(
    state: GatewayState,
) -> None:
    account = await sign_up(state, "Alice", "alice@example.com")
    assert account.user_id >= APP_USER_ID_START
    assert (account.username, account.email) == ("Alice", "alice@example.com")
    async with state.read() as conn:
        row = await queries.user_by_id(conn, account.user_id)
    assert row is not None and row["password_hash"] != PASSWORD
    assert await verify_password(PASSWORD, row["password_hash"])
    for name, email in (("alice", None), ("Bob", "alice@example.com")):
        with pytest.raises(accounts.AccountTaken):
            await sign_up(state, name, email)
    assert (await sign_up(state, "Bob")).user_id != account.user_id


async def test_sign_in_checks_the_password_and_gives_a_token(
    state: GatewayState, limiter: LoginLimiter
) -> None:
    created = await sign_up(state)
    account = await accounts.sign_in(state, limiter, "alice", PASSWORD, IP)
    assert (account.user_id, account.username) == (created.user_id, "Alice")
    user = state.tokens.check(accounts.issue_token(state, account))
    assert user is not None and (user.user_id, user.username) == (created.user_id, "Alice")
    for name, password in (("Alice", WRONG), ("nobody", PASSWORD)):
        with pytest.raises(accounts.WrongCredentials):
            await accounts.sign_in(state, limiter, name, password, IP)


async def test_sign_in_is_rate_limited_the_right_password_too(
    state: GatewayState, limiter: LoginLimiter, settings: Settings
) -> None:
    await sign_up(state)
    for _ in range(5):  # right passwords take their attempt back
        await accounts.sign_in(state, limiter, "Alice", PASSWORD, IP)
    for _ in range(settings.login_max_failures):
        with pytest.raises(accounts.WrongCredentials):
            await accounts.sign_in(state, limiter, "Alice", WRONG, IP)
    with pytest.raises(accounts.TooManyAttempts) as refused:
        await accounts.sign_in(state, limiter, "Alice", PASSWORD, IP)
    assert 0 < refused.value.retry_after_s <= settings.login_window_s
    # the lock is per (username, address): the user can still sign in from elsewhere
    await accounts.sign_in(state, limiter, "Alice", PASSWORD, "198.51.100.1")


async def test_sign_out_revokes_that_token_only(state: GatewayState, limiter: LoginLimiter) -> None:
    account = await accounts.sign_in(state, limiter, (await sign_up(state)).username, PASSWORD, IP)
    first, second = (accounts.issue_token(state, account) for _ in range(2))
    user = state.tokens.check(first)
    assert user is not None
    await accounts.sign_out(state, user)
    assert state.tokens.check(first) is None
    assert state.tokens.check(second) is not None


async def test_password_change_needs_the_current_one_and_revokes_every_token(
    state: GatewayState, limiter: LoginLimiter
) -> None:
    account = await sign_up(state)
    token = accounts.issue_token(state, account)
    new = "a brand new passphrase"  # pragma: allowlist secret
    with pytest.raises(accounts.WrongPassword):
        await accounts.change_password(state, account.user_id, WRONG, new)
    assert state.tokens.check(token) is not None  # refused: nothing changed
    await accounts.change_password(state, account.user_id, PASSWORD, new)
    assert state.tokens.check(token) is None
    with pytest.raises(accounts.WrongCredentials):
        await accounts.sign_in(state, limiter, "Alice", PASSWORD, IP)
    again = await accounts.sign_in(state, limiter, "Alice", new, IP)
    assert state.tokens.check(accounts.issue_token(state, again)) is not None
