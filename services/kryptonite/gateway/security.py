"""Password hashing (argon2) and signed, expiring bearer tokens (JWT, HS256)."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALGORITHM = "HS256"
_hasher = PasswordHasher()
#: Verified against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("kryptonite-dummy-password")


async def hash_password(password: str) -> str:
    """The argon2 hash, computed in a thread (~0.15 s of CPU must not stall the loop)."""
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password: str, password_hash: str | None) -> bool:
    """True when ``password`` matches; checked in a thread, like :func:`hash_password`."""
    return await asyncio.to_thread(_verify, password, password_hash)


@dataclass(frozen=True)
class TokenUser:
    """The caller, as proven by the token (no database read needed)."""

    user_id: int
    username: str


class Tokens:
    """Issues and checks tokens with one secret (random per process when unset)."""

    def __init__(self, secret: str, ttl_s: int, memo_size: int = 10_000) -> None:
        self._secret = secret or secrets.token_urlsafe(32)
        self.ttl_s = ttl_s
        #: token -> (user, exp) of tokens already verified: clients resend the same token
        #: on every request, and a dict lookup is much cheaper than HMAC + JSON + claims.
        self._verified: dict[str, tuple[TokenUser, float]] = {}
        self._memo_size = memo_size

    def issue(self, user_id: int, username: str) -> str:
        now = int(time.time())
        claims = {"sub": str(user_id), "name": username, "iat": now, "exp": now + self.ttl_s}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def check(self, token: str) -> TokenUser | None:
        """The token's user, or None when it is forged, malformed or expired."""
        known = self._verified.get(token)
        if known is not None:
            if known[1] > time.time():
                return known[0]
            del self._verified[token]
            return None
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
            )
            user = TokenUser(int(claims["sub"]), str(claims.get("name", "")))
            exp = float(claims["exp"])
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        if len(self._verified) >= self._memo_size:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (user, exp)
        return user
