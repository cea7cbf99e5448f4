"""One cache interface for recommendation lists: Redis, or an in-process TTL dict.

Lists live in one hash per user (``<prefix>:recs:<user_id>``, field ``<strategy>:<version>``), so a
write by the user invalidates every list of theirs with one DEL, and a new model version
simply makes old fields unused (they expire with the hash's TTL).

Each user also has a **generation** (``<prefix>:gen:<user_id>``), bumped by every
invalidation. A reader takes it with its lookup (:meth:`Cache.lookup`, one round trip) and
passes it back when it stores what it computed: the store is skipped if an invalidation
came in between, so a list computed from data older than a write never lands in the cache
after that write cleared it.
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


def generation_key(user_id: int, prefix: str = "kryptonite") -> str:
    return f"{prefix}:gen:{user_id}"


#: A generation outlives any computation that could still write with it.
GENERATION_TTL_S = 86_400


class Cache(Protocol):
    """Lists of a user by field; values are opaque bytes (JSON)."""

    backend: str

    async def get(self, user_id: int, field: str) -> bytes | None: ...
    async def lookup(self, user_id: int, field: str) -> tuple[bytes | None, int]:
        """The field's value and the user's generation (pass it to a later put)."""
        ...

    async def put(
        self, user_id: int, field: str, value: bytes, ttl_s: int, generation: int | None = None
    ) -> None:
        """Store one field (``put_many`` of one user)."""
        gens = None if generation is None else {user_id: generation}
        await self.put_many({user_id: {field: value}}, ttl_s, gens)

    async def put_many(
        self,
        items: dict[int, dict[str, bytes]],
        ttl_s: int,
        generations: dict[int, int] | None = None,
    ) -> None:
        """Store fields; a user whose generation is given and no longer current (an
        invalidation came after it was read) is skipped."""
        ...

    async def invalidate(self, user_id: int) -> None:
        """Drop the user's lists and bump their generation."""
        ...

    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class MemoryCache(Cache):
    """In-process cache (embedded default): ``{user: (expires_at, {field: value})}``."""

    backend = "memory"

    def __init__(self, max_users: int = 100_000) -> None:
        self._data: dict[int, tuple[float, dict[str, bytes]]] = {}
        self._generations: dict[int, int] = {}
        self._max_users = max_users

    async def get(self, user_id: int, field: str) -> bytes | None:
        entry = self._data.get(user_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._data.pop(user_id, None)
            return None
        return entry[1].get(field)

    async def lookup(self, user_id: int, field: str) -> tuple[bytes | None, int]:
        return await self.get(user_id, field), self._generations.get(user_id, 0)

    async def put_many(
        self,
        items: dict[int, dict[str, bytes]],
        ttl_s: int,
        generations: dict[int, int] | None = None,
    ) -> None:
        expires = time.monotonic() + ttl_s
        for user_id, fields in items.items():
            if generations is not None and user_id in generations:
                if generations[user_id] != self._generations.get(user_id, 0):
                    continue
            if len(self._data) >= self._max_users and user_id not in self._data:
                self._data.pop(next(iter(self._data)))  # oldest insertion first
            old = self._data.get(user_id)
            merged = {**old[1], **fields} if old and old[0] >= time.monotonic() else dict(fields)
            self._data[user_id] = (expires, merged)

    async def invalidate(self, user_id: int) -> None:
        self._data.pop(user_id, None)
        if len(self._generations) >= self._max_users and user_id not in self._generations:
            self._generations.pop(next(iter(self._generations)))  # a 0 refuses old puts too
        self._generations[user_id] = self._generations.get(user_id, 0) + 1

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()


#: HSET + EXPIRE only while the user's generation is still the one read (KEYS: hash,
#: generation; ARGV: generation, ttl, field, value, ...).
_PUT_IF_CURRENT = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisCache(Cache):
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
        self._put_if_current = self.client.register_script(_PUT_IF_CURRENT)

    async def get(self, user_id: int, field: str) -> bytes | None:
        try:
            return await self.client.hget(user_key(user_id, self.prefix), field)
        except (RedisError, OSError) as exc:
            raise CacheError(str(exc)) from exc

    async def lookup(self, user_id: int, field: str) -> tuple[bytes | None, int]:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hget(user_key(user_id, self.prefix), field)
                pipe.get(generation_key(user_id, self.prefix))
                value, generation = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise CacheError(str(exc)) from exc
        return value, int(generation or 0)

    async def put_many(
        self,
        items: dict[int, dict[str, bytes]],
        ttl_s: int,
        generations: dict[int, int] | None = None,
    ) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for user_id, fields in items.items():
                    key = user_key(user_id, self.prefix)
                    if generations is not None and user_id in generations:
                        pairs = [x for kv in fields.items() for x in kv]
                        await self._put_if_current(
                            keys=[key, generation_key(user_id, self.prefix)],
                            args=[generations[user_id], ttl_s, *pairs],
                            client=pipe,
                        )
                        continue
                    pipe.hset(key, mapping=fields)
                    pipe.expire(key, ttl_s)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise CacheError(str(exc)) from exc

    async def invalidate(self, user_id: int) -> None:
        gen = generation_key(user_id, self.prefix)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.incr(gen)
                pipe.expire(gen, GENERATION_TTL_S)
                pipe.delete(user_key(user_id, self.prefix))
                await pipe.execute()
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
