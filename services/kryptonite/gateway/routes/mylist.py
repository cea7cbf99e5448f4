"""The caller's personal list, ratings and events. Writes: database first, then the
user's cached lists are invalidated."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status

from kryptonite.gateway.deps import CurrentUser, DbDep, MovieId, StateDep
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.schemas import EventIn, ListItem, RatingIn, RatingOut
from kryptonite.gateway.state import GatewayState
from kryptonite.store import queries
from kryptonite.store.cache import CacheError

router = APIRouter(prefix="/me", tags=["me"])
log = logging.getLogger("kryptonite.gateway")


async def invalidate(state: GatewayState, user_id: int) -> None:
    """Drop the user's cached lists (a failure is logged; lists then expire by TTL)."""
    try:
        await state.cache.invalidate(user_id)
    except CacheError:
        state.metrics.downstream_failures.labels("cache").inc()
        log.warning("could not invalidate cached lists of user %s", user_id)


async def _require_movie(conn, movie_id: int) -> None:
    if not await queries.movie_exists(conn, movie_id):
        raise ApiError(404, f"movie {movie_id} not found")


@router.get("/list", response_model=list[ListItem])
async def get_list(user: CurrentUser, db: DbDep) -> list[ListItem]:
    rows = await queries.list_get(db, user.user_id)
    cards = await queries.movie_cards(db, [m for m, _ in rows])
    return [ListItem(**cards[m], added_at=at) for m, at in rows if m in cards]


async def add_listed(conn, user_id: int, movie_id: int) -> None:
    """One list add: the movie must exist (the unit retried on a deadlock)."""
    await _require_movie(conn, movie_id)
    await queries.list_add(conn, user_id, movie_id)


@router.put("/list/{movie_id}", status_code=status.HTTP_204_NO_CONTENT)
async def add_to_list(movie_id: MovieId, user: CurrentUser, state: StateDep) -> Response:
    """Add a movie (idempotent: adding twice keeps one entry)."""
    await state.transact(lambda conn: add_listed(conn, user.user_id, movie_id))
    await invalidate(state, user.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/list/{movie_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_from_list(movie_id: MovieId, user: CurrentUser, state: StateDep) -> Response:
    removed = await state.transact(lambda conn: queries.list_remove(conn, user.user_id, movie_id))
    if not removed:
        raise ApiError(404, f"movie {movie_id} is not on your list")
    await invalidate(state, user.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/ratings", response_model=list[RatingOut])
async def get_ratings(user: CurrentUser, db: DbDep) -> list[RatingOut]:
    rows = await queries.ratings_of(db, user.user_id)
    return [RatingOut(movie_id=m, rating=r, rated_at=at) for m, r, at in rows]


async def store_rating(conn, user_id: int, movie_id: int, rating: float) -> tuple[float, int]:
    """One rating write: (rating, rated_at) as stored by it."""
    await _require_movie(conn, movie_id)
    return await queries.rate(conn, user_id, movie_id, rating)


async def store_event(conn, user_id: int, movie_id: int, kind: str) -> None:
    await _require_movie(conn, movie_id)
    await queries.record_event(conn, user_id, movie_id, kind)


@router.put("/ratings/{movie_id}", response_model=RatingOut)
async def rate(movie_id: MovieId, body: RatingIn, user: CurrentUser, state: StateDep) -> RatingOut:
    """Rate a movie 0.5–5.0 in halves (rating again replaces the rating). The answer is
    this request's own stored value, also when identical requests run in parallel."""
    rating, rated_at = await state.transact(
        lambda conn: store_rating(conn, user.user_id, movie_id, body.rating)
    )
    await invalidate(state, user.user_id)
    return RatingOut(movie_id=movie_id, rating=rating, rated_at=rated_at)


@router.post("/events", status_code=status.HTTP_202_ACCEPTED)
async def event(body: EventIn, user: CurrentUser, state: StateDep) -> dict[str, str]:
    """Record an implicit event (view, click)."""
    await state.transact(
        lambda conn: store_event(conn, user.user_id, body.movie_id, body.event.value)
    )
    await invalidate(state, user.user_id)
    return {"status": "recorded"}
