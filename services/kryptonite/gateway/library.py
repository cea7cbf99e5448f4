"""The caller's library: personal list, ratings, events and "not interested", one
implementation for the JSON API (``routes/mylist.py``, ``routes/hidden.py``) and the web
forms (``web/personal.py``, ``web/preferences.py``).

Every write goes to the database first (one transaction, run again on a deadlock), then
drops the user's cached lists. A movie that does not exist raises :class:`MovieNotFound`;
each caller words it (JSON error or HTML page). Removals say whether anything was removed
(the API answers 404 when not, the web forms do not mind).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from kryptonite.store import queries
from kryptonite.store.cache import CacheError

if TYPE_CHECKING:
    from kryptonite.gateway.state import GatewayState

log = logging.getLogger("kryptonite.gateway")


class MovieNotFound(LookupError):
    """No movie has this id."""

    def __init__(self, movie_id: int) -> None:
        super().__init__(movie_id)
        self.movie_id = movie_id


async def require_movie(conn: AsyncConnection, movie_id: int) -> None:
    """Raise :class:`MovieNotFound` unless the movie exists."""
    if not await queries.movie_exists(conn, movie_id):
        raise MovieNotFound(movie_id)


async def invalidate(state: GatewayState, user_id: int) -> None:
    """Drop the user's cached lists (a failure is logged; lists then expire by TTL)."""
    try:
        await state.cache.invalidate(user_id)
    except CacheError:
        state.metrics.downstream_failures.labels("cache").inc()
        log.warning("could not invalidate cached lists of user %s", user_id)


async def _on_movie(state: GatewayState, user_id: int, movie_id: int, write):
    """Require the movie, run ``write(conn)`` in one retried transaction, then drop the
    user's cached lists; returns what ``write`` returned."""

    async def work(conn: AsyncConnection):
        await require_movie(conn, movie_id)
        return await write(conn)

    result = await state.transact(work)
    await invalidate(state, user_id)
    return result


async def add_to_list(state: GatewayState, user_id: int, movie_id: int) -> None:
    """Add a movie to the list (idempotent: adding twice keeps one entry)."""
    await _on_movie(
        state, user_id, movie_id, lambda conn: queries.list_add(conn, user_id, movie_id)
    )


async def remove_from_list(state: GatewayState, user_id: int, movie_id: int) -> bool:
    """Take a movie off the list; False when it was not on it."""
    removed = await state.transact(lambda conn: queries.list_remove(conn, user_id, movie_id))
    await invalidate(state, user_id)
    return removed


async def rate(
    state: GatewayState, user_id: int, movie_id: int, rating: float
) -> tuple[float, int]:
    """Rate a movie (rating again replaces the rating): (rating, rated_at) as this
    request stored them, also when identical requests run in parallel."""
    return await _on_movie(
        state, user_id, movie_id, lambda conn: queries.rate(conn, user_id, movie_id, rating)
    )


async def record_event(state: GatewayState, user_id: int, movie_id: int, kind: str) -> None:
    """Record an implicit event (view, click) on a movie."""
    await _on_movie(
        state, user_id, movie_id, lambda conn: queries.record_event(conn, user_id, movie_id, kind)
    )


async def hide(state: GatewayState, user_id: int, movie_id: int) -> None:
    """Hide a movie from every recommendation row (idempotent)."""
    await _on_movie(
        state, user_id, movie_id, lambda conn: queries.not_interested_add(conn, user_id, movie_id)
    )


async def unhide(state: GatewayState, user_id: int, movie_id: int) -> bool:
    """Show a hidden movie in recommendations again; False when it was not hidden."""
    removed = await state.transact(
        lambda conn: queries.not_interested_remove(conn, user_id, movie_id)
    )
    await invalidate(state, user_id)
    return removed
