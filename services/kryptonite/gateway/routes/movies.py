"""Movies: search, detail, similar."""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Path, Query

from kryptonite.gateway.deps import DbDep, MovieId, StateDep
from kryptonite.gateway.errors import from_grpc
from kryptonite.gateway.library import MovieNotFound
from kryptonite.gateway.recommend import Orchestrator
from kryptonite.gateway.schemas import (
    DailyKind,
    DailyOut,
    Links,
    MovieDetail,
    MoviePage,
    SimilarOut,
)
from kryptonite.gateway.search import search_movies
from kryptonite.store import queries

router = APIRouter(prefix="/movies", tags=["movies"])


@router.get("", response_model=MoviePage)
async def search(
    db: DbDep,
    state: StateDep,
    q: Annotated[str | None, Query(max_length=200, description="Title words")] = None,
    genre: Annotated[str | None, Query(max_length=64)] = None,
    year: Annotated[int | None, Query(ge=1800, le=2100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MoviePage:
    """Search titles by relevance (exact, then prefix, word and typo-tolerant matches; ties
    by popularity), filter by genre and year; without ``q`` ordered by title; paginated."""
    total, items = await search_movies(
        state, db, q=q, genre=genre, year=year, limit=limit, offset=offset
    )
    return MoviePage(total=total, limit=limit, offset=offset, items=items)


@router.get("/daily/{kind}", response_model=DailyOut)
async def daily(
    kind: Annotated[DailyKind, Path(description="new or trending")],
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DailyOut:
    """The latest "new" or "trending" row written by ``kryptonite daily-update``."""
    day, ids = await queries.daily_movies(db, kind.value, limit)
    cards = await queries.movie_cards(db, ids)
    return DailyOut(kind=kind, day=day, items=[cards[m] for m in ids if m in cards])


@router.get("/{movie_id}", response_model=MovieDetail)
async def detail(movie_id: MovieId, db: DbDep) -> MovieDetail:
    row = await queries.movie_detail(db, movie_id)
    if row is None:
        raise MovieNotFound(movie_id)
    links = Links(
        movielens=f"https://movielens.org/movies/{movie_id}",
        imdb=f"https://www.imdb.com/title/tt{row['imdb_id']}/" if row["imdb_id"] else None,
        tmdb=f"https://www.themoviedb.org/movie/{row['tmdb_id']}" if row["tmdb_id"] else None,
        youtube=f"https://www.youtube.com/watch?v={row['youtube_id']}"
        if row["youtube_id"]
        else None,
    )
    return MovieDetail(**row, links=links)


@router.get("/{movie_id}/similar", response_model=SimilarOut)
async def similar(
    movie_id: MovieId,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SimilarOut:
    """Content neighbours (content service); same-genre popular movies when it is down."""
    try:
        items, degraded = await Orchestrator(state).similar(movie_id, limit)
    except grpc.aio.AioRpcError as exc:
        raise from_grpc(exc, "similar movies") from None
    return SimilarOut(movie_id=movie_id, degraded=degraded, items=items)
