"""Password hashing (argon2) and signed, expiring bearer tokens (JWT, HS256)."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kryptonite.gateway.revocation import Revocations

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
    #: The token's own id and times (for revocation); equality is by user only.
    jti: str = field(default="", compare=False)
    issued_at: float = field(default=0.0, compare=False)
    expires_at: float = field(default=0.0, compare=False)


class Tokens:
    """Issues and checks tokens with one secret (random per process when unset); a token
    voided in ``revocations`` (sign-out, password change) no longer checks."""

    def __init__(
        self,
        secret: str,
        ttl_s: int,
        memo_size: int = 10_000,
        revocations: Revocations | None = None,
    ) -> None:
        self._secret = secret or secrets.token_urlsafe(32)
        self.ttl_s = ttl_s
        self.revocations = revocations or Revocations(token_ttl_s=ttl_s)
        #: token -> (user, exp) of tokens already verified: clients resend the same token
        #: on every request, and a dict lookup is much cheaper than HMAC + JSON + claims.
        self._verified: dict[str, tuple[TokenUser, float]] = {}
        self._memo_size = memo_size

    def issue(self, user_id: int, username: str) -> str:
        now = round(time.time(), 3)  # ms: a password change voids tokens issued before it
        claims = {
            "sub": str(user_id),
            "name": username,
            "iat": now,
            "exp": int(now) + self.ttl_s,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def check(self, token: str) -> TokenUser | None:
        """The token's user, or None when it is forged, malformed or expired."""
        known = self._verified.get(token)
        if known is not None:
            user = known[0]
            if known[1] > time.time():
                return None if self._revoked(user) else user
            del self._verified[token]
            return None
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
            )
            exp = float(claims["exp"])
            user = TokenUser(
                int(claims["sub"]),
                str(claims.get("name", "")),
                jti=str(claims.get("jti", "")),
                issued_at=float(claims.get("iat", 0)),
                expires_at=exp,
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        if len(self._verified) >= self._memo_size:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (user, exp)
        return None if self._revoked(user) else user

    def _revoked(self, user: TokenUser) -> bool:
        return self.revocations.is_revoked(user.jti, user.user_id, user.issued_at)
