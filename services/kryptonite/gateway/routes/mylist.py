"""The caller's personal list, ratings and events (the writes: :mod:`kryptonite.gateway.
library`, database first, then the user's cached lists are invalidated)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from kryptonite.gateway import library
from kryptonite.gateway.deps import CurrentUser, DbDep, MovieId, StateDep
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.schemas import EventIn, ListItem, RatingIn, RatingOut
from kryptonite.store import queries

router = APIRouter(prefix="/me", tags=["me"])


@router.get("/list", response_model=list[ListItem])
async def get_list(user: CurrentUser, db: DbDep) -> list[ListItem]:
    rows = await queries.list_get(db, user.user_id)
    cards = await queries.movie_cards(db, [m for m, _ in rows])
    return [ListItem(**cards[m], added_at=at) for m, at in rows if m in cards]


@router.put("/list/{movie_id}", status_code=status.HTTP_204_NO_CONTENT)
async def add_to_list(movie_id: MovieId, user: CurrentUser, state: StateDep) -> Response:
    """Add a movie (idempotent: adding twice keeps one entry)."""
    await library.add_to_list(state, user.user_id, movie_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/list/{movie_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_from_list(movie_id: MovieId, user: CurrentUser, state: StateDep) -> Response:
    if not await library.remove_from_list(state, user.user_id, movie_id):
        raise ApiError(404, f"movie {movie_id} is not on your list")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/ratings", response_model=list[RatingOut])
async def get_ratings(user: CurrentUser, db: DbDep) -> list[RatingOut]:
    rows = await queries.ratings_of(db, user.user_id)
    return [RatingOut(movie_id=m, rating=r, rated_at=at) for m, r, at in rows]


@router.put("/ratings/{movie_id}", response_model=RatingOut)
async def rate(movie_id: MovieId, body: RatingIn, user: CurrentUser, state: StateDep) -> RatingOut:
    """Rate a movie 0.5–5.0 in halves (rating again replaces the rating). The answer is
    this request's own stored value, also when identical requests run in parallel."""
    rating, rated_at = await library.rate(state, user.user_id, movie_id, body.rating)
    return RatingOut(movie_id=movie_id, rating=rating, rated_at=rated_at)


@router.post("/events", status_code=status.HTTP_202_ACCEPTED)
async def event(body: EventIn, user: CurrentUser, state: StateDep) -> dict[str, str]:
    """Record an implicit event (view, click)."""
    await library.record_event(state, user.user_id, body.movie_id, body.event.value)
    return {"status": "recorded"}
