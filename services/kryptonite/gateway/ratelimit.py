"""Sign-in rate limiting: failed attempts counted per window, shared by gateway replicas.

Three counters, each a fixed window that starts at its first attempt
(``login_window_s``):

* **(username, client IP)**: ``login_max_failures`` (10). The main lock: it stops guessing
  from one place, yet someone failing on purpose cannot lock the real user out from
  elsewhere.
* **client IP** (IPv6: its /64), any username: ``login_max_failures_per_ip`` (100), so
  one client cannot sweep many usernames.
* **username**, any IP: ``login_max_failures_per_user`` (100), a looser cap on
  distributed guessing of one account. Locking a user out through it takes 100 failures in
  the window from at least 10 addresses; 0 turns it off.

Every attempt is counted *before* the password is checked (so a burst of parallel
guesses cannot all pass a check made before any of them is counted) and refused while
any counter is over its limit, the right password too (else the limit would still
confirm a guess). A successful sign-in takes its attempt back: the (username, IP) counter
is cleared, the IP and username counters go down by one. An attempt that errors (the
database down) stays counted. Counters live in Redis when the cache is Redis (``SET NX
EX`` + ``INCR`` in one ``MULTI``: the TTL is set once, atomically), else in this process;
when Redis fails the process counts on its own instead of refusing sign-ins.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from kryptonite.config import Settings
from kryptonite.store.cache import Cache, RedisCache
from kryptonite.store.usernames import canonical

log = logging.getLogger("kryptonite.gateway")


class Counters(Protocol):
    """Windowed counters by key."""

    async def hit(self, keys: Sequence[str], window_s: int) -> list[tuple[int, int]]:
        """Add one to each key (a new key lives ``window_s``); (count, seconds left)."""
        ...

    async def take_back(self, keys: Sequence[str]) -> None:
        """Subtract one from each key that is still counting."""
        ...

    async def reset(self, key: str) -> None: ...


class MemoryCounters:
    """In-process counters: ``{key: (count, expires_at)}``, at most ``max_keys``."""

    def __init__(
        self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._data: dict[str, tuple[int, float]] = {}
        self._max_keys = max_keys
        self._clock = clock

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._data.get(key)
        if entry is not None and entry[1] <= now:
            del self._data[key]
            return None
        return entry

    async def hit(self, keys: Sequence[str], window_s: int) -> list[tuple[int, int]]:
        now = self._clock()
        out = []
        for key in keys:
            entry = self._live(key, now)
            if entry is None:
                if len(self._data) >= self._max_keys:
                    self._evict(now)
                entry = (0, now + window_s)
            self._data[key] = (entry[0] + 1, entry[1])
            out.append((entry[0] + 1, max(1, math.ceil(entry[1] - now))))
        return out

    async def take_back(self, keys: Sequence[str]) -> None:
        now = self._clock()
        for key in keys:
            entry = self._live(key, now)
            if entry is not None and entry[0] > 0:
                self._data[key] = (entry[0] - 1, entry[1])

    def _evict(self, now: float) -> None:
        """Drop expired keys; if none, the oldest inserted one."""
        for key in [k for k, (_, exp) in self._data.items() if exp <= now]:
            del self._data[key]
        if len(self._data) >= self._max_keys:
            self._data.pop(next(iter(self._data)))

    async def reset(self, key: str) -> None:
        self._data.pop(key, None)


#: DECR only a key that still exists and is positive (an expired one must not come back
#: without a TTL).
_TAKE_BACK = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class RedisCounters:
    """Counters in Redis (shared by replicas); failures raise ``RedisError``/``OSError``."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._take_back = client.register_script(_TAKE_BACK)

    async def hit(self, keys: Sequence[str], window_s: int) -> list[tuple[int, int]]:
        async with self.client.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.set(key, 0, ex=window_s, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
            replies = await pipe.execute()
        return [
            (int(replies[i + 1]), max(1, int(replies[i + 2]))) for i in range(0, len(replies), 3)
        ]

    async def take_back(self, keys: Sequence[str]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                await self._take_back(keys=[key], client=pipe)
            await pipe.execute()

    async def reset(self, key: str) -> None:
        await self.client.delete(key)


def client_network(host: str | None) -> str:
    """The client address as counted per IP: IPv4 as is, IPv6 as its /64 network."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _user_digest(username: str) -> str:
    """Usernames are hashed in canonical form (the account sign-in resolves them to) in
    keys: bounded length, none stored in Redis."""
    return hashlib.blake2b(canonical(username).encode(), digest_size=12).hexdigest()


class LoginLimiter:
    """Counts sign-in attempts and says when one must wait."""

    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis | None = None,
        fallback: MemoryCounters | None = None,
    ) -> None:
        self.window_s = settings.login_window_s
        self._limits = (
            settings.login_max_failures,
            settings.login_max_failures_per_ip,
            settings.login_max_failures_per_user,
        )
        self._prefix = f"{settings.cache_prefix}:login"
        self._redis = RedisCounters(redis) if redis is not None else None
        self._memory = fallback or MemoryCounters()
        self._warned_at = float("-inf")

    @classmethod
    def for_cache(cls, settings: Settings, cache: Cache) -> LoginLimiter:
        """Redis counters on the cache's connection pool when the cache is Redis."""
        return cls(settings, cache.client if isinstance(cache, RedisCache) else None)

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None else "memory"

    def _keys(self, username: str, ip: str | None) -> tuple[str, str, str]:
        user, net = _user_digest(username), client_network(ip)
        p = self._prefix
        return f"{p}:pair:{user}:{net}", f"{p}:ip:{net}", f"{p}:user:{user}"

    def _fallen_back(self, exc: Exception) -> MemoryCounters:
        if time.monotonic() - self._warned_at > 60:
            self._warned_at = time.monotonic()
            log.warning("sign-in limiter: Redis failed (%s); counting in-process", exc)
        return self._memory

    def _active(self, username: str, ip: str | None) -> list[tuple[str, int]]:
        """(key, limit) of the counters that are switched on."""
        keys = self._keys(username, ip)
        return [(k, limit) for k, limit in zip(keys, self._limits, strict=True) if limit > 0]

    async def attempt(self, username: str, ip: str | None) -> int | None:
        """Count a sign-in attempt; seconds to wait when it is over a limit (refuse it),
        else None (check the password, then call :meth:`succeeded` if it was right)."""
        active = self._active(username, ip)
        if not active:
            return None
        keys = [k for k, _ in active]
        try:
            counts = await (self._redis or self._memory).hit(keys, self.window_s)
        except (RedisError, OSError) as exc:
            counts = await self._fallen_back(exc).hit(keys, self.window_s)
        waits = [left for (n, left), (_, limit) in zip(counts, active, strict=True) if n > limit]
        return max(waits) if waits else None

    async def succeeded(self, username: str, ip: str | None) -> None:
        """Take a right-password attempt back: clear the (username, IP) counter, one off
        the IP and username counters."""
        pair = self._keys(username, ip)[0]
        others = [k for k, _ in self._active(username, ip) if k != pair]
        for counters in (self._memory, self._redis):
            if counters is None:
                continue
            try:
                await counters.reset(pair)
                await counters.take_back(others)
            except (RedisError, OSError) as exc:
                self._fallen_back(exc)


def wait_words(retry_after_s: int) -> str:
    """``retry_after_s`` in words: "40 seconds", "5 minutes"."""
    if retry_after_s <= 60:
        return f"{retry_after_s} second{'s' if retry_after_s != 1 else ''}"
    minutes = -(-retry_after_s // 60)
    return f"{minutes} minutes"
