"""The library writes (list, ratings, events, not interested) on a real database (SQLite
and MariaDB) and the app's own cache: the movie must exist, the row is written, the
user's cached lists are dropped after the write, and removals say what they removed."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from kryptonite.gateway import library
from kryptonite.gateway.state import GatewayState
from kryptonite.store import queries
from kryptonite.store.cache import RedisCache

UNKNOWN = 999_999


@pytest.fixture
async def user(state: GatewayState) -> int:
    async with state.write() as conn:
        return await queries.create_user(conn, "reader", None, "hash")


async def cached(state: GatewayState, user: int) -> bytes | None:
    """The user's cached "for you" list, if any."""
    return await state.cache.get(user, "for_you")


async def fill_cache(state: GatewayState, user: int) -> None:
    """Cache a list for the user (as a recommendation request would)."""
    await state.cache.put(user, "for_you", b"[1, 2, 3]", ttl_s=600)
    assert await cached(state, user) == b"[1, 2, 3]"


async def test_list_add_and_remove(state: GatewayState, user: int) -> None:
    await fill_cache(state, user)
    await library.add_to_list(state, user, 260)
    await library.add_to_list(state, user, 260)  # idempotent
    await library.add_to_list(state, user, 1)
    assert await cached(state, user) is None  # invalidated after the write
    async with state.read() as conn:
        assert sorted(m for m, _ in await queries.list_get(conn, user)) == [1, 260]

    await fill_cache(state, user)
    assert await library.remove_from_list(state, user, 260) is True
    assert await cached(state, user) is None
    assert await library.remove_from_list(state, user, 260) is False  # not on it any more
    async with state.read() as conn:
        assert [m for m, _ in await queries.list_get(conn, user)] == [1]


async def test_rate_replaces_the_rating_and_returns_what_was_stored(
    state: GatewayState, user: int
) -> None:
    await fill_cache(state, user)
    rating, rated_at = await library.rate(state, user, 2571, 4.5)
    assert rating == 4.5 and rated_at > 0
    assert await cached(state, user) is None
    rating, _ = await library.rate(state, user, 2571, 2.0)
    assert rating == 2.0
    async with state.read() as conn:
        assert [(m, r) for m, r, _ in await queries.ratings_of(conn, user)] == [(2571, 2.0)]


async def test_event_is_recorded(state: GatewayState, user: int) -> None:
    await fill_cache(state, user)
    await library.record_event(state, user, 1, "view")
    assert await cached(state, user) is None
    async with state.read() as conn:
        history = await queries.history(conn, user, 10)
    assert 1 in history.recent


async def test_hide_and_unhide(state: GatewayState, user: int) -> None:
    await fill_cache(state, user)
    await library.hide(state, user, 1)
    await library.hide(state, user, 1)  # idempotent
    assert await cached(state, user) is None
    async with state.read() as conn:
        assert [m for m, _ in await queries.not_interested(conn, user)] == [1]
    await fill_cache(state, user)
    assert await library.unhide(state, user, 1) is True
    assert await cached(state, user) is None
    assert await library.unhide(state, user, 1) is False
    async with state.read() as conn:
        assert await queries.not_interested(conn, user) == []


@pytest.mark.parametrize(
    "write",
    [
        lambda s, u: library.add_to_list(s, u, UNKNOWN),
        lambda s, u: library.rate(s, u, UNKNOWN, 3.0),
        lambda s, u: library.record_event(s, u, UNKNOWN, "click"),
        lambda s, u: library.hide(s, u, UNKNOWN),
    ],
    ids=["list", "rating", "event", "hide"],
)
async def test_a_write_about_an_unknown_movie_changes_nothing(
    state: GatewayState, user: int, write
) -> None:
    await fill_cache(state, user)
    with pytest.raises(library.MovieNotFound) as raised:
        await write(state, user)
    assert raised.value.movie_id == UNKNOWN
    assert await cached(state, user) == b"[1, 2, 3]"  # refused: the cache is kept
    async with state.read() as conn:
        assert await queries.list_get(conn, user) == []
        assert await queries.ratings_of(conn, user) == []
        assert await queries.not_interested(conn, user) == []
        assert (await queries.history(conn, user, 10)).seen == set()


async def test_a_cache_that_fails_does_not_fail_the_write(
    state: GatewayState, user: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down: the write stands, the failure is logged and counted (the cached lists
    then expire by their TTL)."""
    down = RedisCache("redis://127.0.0.1:1/0", timeout_s=0.05)
    broken = dataclasses.replace(state, cache=down)

    def failures() -> float:
        sample = "kryptonite_downstream_failures_total"
        return state.metrics.registry.get_sample_value(sample, {"target": "cache"}) or 0.0

    before = failures()
    try:
        with caplog.at_level(logging.WARNING, logger="kryptonite.gateway"):
            await library.add_to_list(broken, user, 1)
    finally:
        await down.close()
    assert failures() == before + 1
    assert f"could not invalidate cached lists of user {user}" in caplog.text
    async with state.read() as conn:
        assert [m for m, _ in await queries.list_get(conn, user)] == [1]
