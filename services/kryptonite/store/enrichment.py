"""TMDB enrichment of ``movies``: which movies still need it, and storing what was found."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, select, update

from kryptonite.store.tables import movie_imdb_tmdb, movies


def pending(engine: Engine, limit: int | None, refresh: bool) -> list[dict[str, Any]]:
    """Movies with a TMDB id still lacking a poster (all of them with ``refresh``):
    ``movie_id``, ``tmdb_id``, ``overview``."""
    query = (
        select(movies.c.movie_id, movie_imdb_tmdb.c.tmdb_id, movies.c.overview)
        .join(movie_imdb_tmdb, movie_imdb_tmdb.c.movie_id == movies.c.movie_id)
        .where(movie_imdb_tmdb.c.tmdb_id.is_not(None))
        .order_by(movies.c.movie_id)
    )
    if not refresh:
        query = query.where(movies.c.poster_path.is_(None))
    if limit:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def store_enrichment(engine: Engine, updates: Sequence[dict[str, Any]]) -> None:
    """Set each movie's poster path and overview (``id``, ``poster``, ``overview``)."""
    if not updates:
        return
    with engine.begin() as conn:
        conn.execute(
            update(movies)
            .where(movies.c.movie_id == bindparam("id"))
            .values(poster_path=bindparam("poster"), overview=bindparam("overview")),
            list(updates),
        )
