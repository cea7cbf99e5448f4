"""One cache interface for recommendation lists: Redis, or an in-process TTL dict.

Lists live in one hash per user (``<prefix>:recs:<user_id>``, field ``<strategy>:<version>``), so a
write by the user invalidates every list of theirs with one DEL, and a new model version
simply makes old fields unused (they expire with the hash's TTL).
"""

from __future__ import annotations

import time
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kryptonite.config import Settings


class CacheError(RuntimeError):
    """The cache backend is unreachable or failed; callers compute live instead."""


def user_key(user_id: int, prefix: str = "kryptonite") -> str:
    return f"{prefix}:recs:{user_id}"


class Cache(Protocol):
    """Lists of a user by field; values are opaque bytes (JSON)."""

    backend: str

    async def get(self, user_id: int, field: str) -> bytes | None: ...
    async def put(self, user_id: int, field: str, value: bytes, ttl_s: int) -> None: ...
    async def put_many(self, items: dict[int, dict[str, bytes]], ttl_s: int) -> None: ...
    async def invalidate(self, user_id: int) -> None: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class MemoryCache:
    """In-process cache (embedded default): ``{user: (expires_at, {field: value})}``."""

    backend = "memory"

    def __init__(self, max_users: int = 100_000) -> None:
        self._data: dict[int, tuple[float, dict[str, bytes]]] = {}
        self._max_users = max_users

    async def get(self, user_id: int, field: str) -> bytes | None:
        entry = self._data.get(user_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._data.pop(user_id, None)
            return None
        return entry[1].get(field)

    async def put(self, user_id: int, field: str, value: bytes, ttl_s: int) -> None:
        await self.put_many({user_id: {field: value}}, ttl_s)

    async def put_many(self, items: dict[int, dict[str, bytes]], ttl_s: int) -> None:
        expires = time.monotonic() + ttl_s
        for user_id, fields in items.items():
            if len(self._data) >= self._max_users and user_id not in self._data:
                self._data.pop(next(iter(self._data)))  # oldest insertion first
            old = self._data.get(user_id)
            merged = {**old[1], **fields} if old and old[0] >= time.monotonic() else dict(fields)
            self._data[user_id] = (expires, merged)

    async def invalidate(self, user_id: int) -> None:
        self._data.pop(user_id, None)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()


class RedisCache:
    """Redis via ``redis.asyncio``; every failure surfaces as :class:`CacheError`."""

    backend = "redis"

    def __init__(self, url: str, *, timeout_s: float = 0.2, prefix: str = "kryptonite") -> None:
        self.prefix = prefix
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            max_connections=256,
        )

    async def get(self, user_id: int, field: str) -> bytes | None:
        try:
            return await self.client.hget(user_key(user_id, self.prefix), field)
        except (RedisError, OSError) as exc:
            raise CacheError(str(exc)) from exc

    async def put(self, user_id: int, field: str, value: bytes, ttl_s: int) -> None:
        await self.put_many({user_id: {field: value}}, ttl_s)

    async def put_many(self, items: dict[int, dict[str, bytes]], ttl_s: int) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for user_id, fields in items.items():
                    key = user_key(user_id, self.prefix)
                    pipe.hset(key, mapping=fields)
                    pipe.expire(key, ttl_s)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise CacheError(str(exc)) from exc

    async def invalidate(self, user_id: int) -> None:
        try:
            await self.client.delete(user_key(user_id, self.prefix))
        except (RedisError, OSError) as exc:
            raise CacheError(str(exc)) from exc

    async def ping(self) -> None:
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            raise CacheError(str(exc)) from exc

    async def close(self) -> None:
        await self.client.aclose()


def create_cache(settings: Settings) -> Cache:
    """Redis when ``KRYPTONITE_REDIS_URL`` is set, otherwise the in-process cache."""
    if settings.redis_url:
        return RedisCache(
            settings.redis_url, timeout_s=settings.cache_timeout_s, prefix=settings.cache_prefix
        )
    return MemoryCache()
