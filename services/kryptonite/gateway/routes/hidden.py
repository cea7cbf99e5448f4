"""Movies the caller is not interested in: hidden from every recommendation row.

Writes (:mod:`kryptonite.gateway.library`): database first, then the user's cached lists
are invalidated (as list and rating writes do), so the next list is computed without them.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from kryptonite.gateway import library
from kryptonite.gateway.deps import CurrentUser, DbDep, MovieId, StateDep
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.schemas import HiddenItem
from kryptonite.store import queries

router = APIRouter(prefix="/me", tags=["me"])


@router.get("/not-interested", response_model=list[HiddenItem])
async def get_hidden(user: CurrentUser, db: DbDep) -> list[HiddenItem]:
    rows = await queries.not_interested(db, user.user_id)
    cards = await queries.movie_cards(db, [m for m, _ in rows])
    return [HiddenItem(**cards[m], hidden_at=at) for m, at in rows if m in cards]


@router.put("/not-interested/{movie_id}", status_code=status.HTTP_204_NO_CONTENT)
async def hide(movie_id: MovieId, user: CurrentUser, state: StateDep) -> Response:
    """Hide a movie from every recommendation row (idempotent)."""
    await library.hide(state, user.user_id, movie_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/not-interested/{movie_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unhide(movie_id: MovieId, user: CurrentUser, state: StateDep) -> Response:
    """Show a hidden movie in recommendations again."""
    if not await library.unhide(state, user.user_id, movie_id):
        raise ApiError(404, f"movie {movie_id} is not hidden")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
