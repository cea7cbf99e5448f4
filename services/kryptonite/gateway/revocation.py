"""Revoked bearer tokens and web sessions: sign-out voids one token (by its ``jti``), a
password change voids every token of the user issued before it.

Checked on every signed-in request, so the check is a dict lookup in this process. Each
revocation is applied here at once and published to Redis (when the cache is Redis) in
one sorted set, ``<prefix>:revoked`` (member ``t:<jti>:<exp>`` or ``u:<user>:<cutoff>``,
score = when); every replica pulls the new members every ``revocation_poll_s``. Members
older than a token's lifetime are dropped (every token they could void has expired).
When Redis fails, revocations made by this replica still hold here.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("kryptonite.gateway")


class Revocations:
    """Voided tokens (``jti`` -> expiry) and per-user cut-offs (user -> issued-before)."""

    def __init__(
        self,
        redis: aioredis.Redis | None = None,
        *,
        prefix: str = "kryptonite",
        token_ttl_s: int = 3600,
        poll_s: float = 1.0,
    ) -> None:
        self._redis = redis
        self._key = f"{prefix}:revoked"
        self._ttl_s = token_ttl_s
        self.poll_s = poll_s
        self._tokens: dict[str, float] = {}
        self._users: dict[int, float] = {}
        self._seen_until = 0.0
        self._task: asyncio.Task[None] | None = None

    def is_revoked(self, jti: str, user_id: int, issued_at: float) -> bool:
        """True when the token was signed out or issued before its user's cut-off."""
        if jti and jti in self._tokens:
            return True
        cutoff = self._users.get(user_id)
        return cutoff is not None and issued_at < cutoff

    def _apply(self, member: str) -> None:
        kind, ident, value = member.split(":", 2)
        if kind == "t":
            self._tokens[ident] = float(value)
        elif kind == "u":
            user = int(ident)
            self._users[user] = max(self._users.get(user, 0.0), float(value))

    async def _publish(self, member: str) -> None:
        self._apply(member)
        if self._redis is None:
            return
        try:
            await self._redis.zadd(self._key, {member: time.time()})
        except (RedisError, OSError) as exc:
            log.warning("revocation not shared with other replicas (Redis: %s)", exc)

    async def revoke_token(self, jti: str, expires_at: float) -> None:
        """Void one token (sign-out)."""
        if jti:
            await self._publish(f"t:{jti}:{expires_at}")

    async def revoke_user(self, user_id: int, before: float | None = None) -> None:
        """Void every token of ``user_id`` issued before ``before`` (default: now)."""
        await self._publish(f"u:{user_id}:{time.time() if before is None else before}")

    def _prune(self, now: float) -> None:
        for jti in [j for j, exp in self._tokens.items() if exp <= now]:
            del self._tokens[jti]
        for user in [u for u, cut in self._users.items() if cut + self._ttl_s <= now]:
            del self._users[user]

    async def sync(self) -> None:
        """Pull revocations published since the last pull (a little overlap: clocks)."""
        now = time.time()
        self._prune(now)
        if self._redis is None:
            return
        since = self._seen_until - 5.0
        members = await self._redis.zrangebyscore(self._key, since, "+inf")
        for member in members:
            self._apply(member.decode() if isinstance(member, bytes) else member)
        self._seen_until = now
        await self._redis.zremrangebyscore(self._key, "-inf", now - self._ttl_s - 60)

    def start(self) -> None:
        async def loop() -> None:
            while True:
                try:
                    await self.sync()
                except (RedisError, OSError) as exc:
                    log.warning("revocations: Redis failed (%s); retrying", exc)
                await asyncio.sleep(self.poll_s)

        self._task = asyncio.create_task(loop(), name="revocations")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
