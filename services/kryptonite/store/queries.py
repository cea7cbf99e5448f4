"""Async queries of the gateway (SQLAlchemy Core, parameterized; MySQL and SQLite)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kryptonite.store.tables import (
    daily_update,
    genome_scores,
    genome_tags,
    genres,
    ml_youtube,
    movie_genres,
    movie_imdb_tmdb,
    movies,
    rating_explicit,
    rating_implicit,
    tags,
    user_movielist,
    user_not_interested,
    users,
)
from kryptonite.store.usernames import canonical


class UsernameTaken(ValueError):
    """Registration with a username or e-mail that already exists."""


def _upsert(conn: AsyncConnection, table: Any, values: dict[str, Any], update: dict[str, Any]):
    """INSERT ... ON DUPLICATE KEY UPDATE (MySQL) / ON CONFLICT DO UPDATE (SQLite)."""
    if conn.dialect.name in ("mysql", "mariadb"):
        stmt = mysql.insert(table).values(**values)
        return stmt.on_duplicate_key_update(**update) if update else stmt.prefix_with("IGNORE")
    stmt = sqlite.insert(table).values(**values)
    keys = [c.name for c in table.primary_key.columns]
    if not update:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.on_conflict_do_update(index_elements=keys, set_=update)


# ------------------------------------------------------------------ users
async def create_user(
    conn: AsyncConnection, username: str, email: str | None, password_hash: str
) -> int:
    """A new app account; UsernameTaken on a duplicate username or e-mail.

    The id comes from the table's AUTO_INCREMENT (the migration starts it at
    APP_USER_ID_START, above every MovieLens id), so concurrent sign-ups never collide.
    """
    try:
        async with conn.begin_nested():
            result = await conn.execute(
                insert(users).values(
                    username=username,
                    username_key=canonical(username),
                    email=email,
                    password_hash=password_hash,
                    source="app",
                )
            )
    except IntegrityError:
        raise UsernameTaken(username) from None
    return int(result.inserted_primary_key[0])


async def user_by_username(conn: AsyncConnection, username: str) -> dict[str, Any] | None:
    """The account whose canonical name is ``username``'s (exact: no collation folding)."""
    key = canonical(username)
    row = (await conn.execute(select(users).where(users.c.username_key == key))).mappings()
    found = row.first()
    return dict(found) if found else None


async def set_password_hash(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    await conn.execute(
        users.update().where(users.c.user_id == user_id).values(password_hash=password_hash)
    )


async def user_by_id(conn: AsyncConnection, user_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(users).where(users.c.user_id == user_id))).mappings()
    found = row.first()
    return dict(found) if found else None


# ------------------------------------------------------------------ movies
async def genres_of(conn: AsyncConnection, movie_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(dict.fromkeys(movie_ids))
    out: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await conn.execute(
        select(movie_genres.c.movie_id, genres.c.name)
        .join(genres, genres.c.genre_id == movie_genres.c.genre_id)
        .where(movie_genres.c.movie_id.in_(ids))
        .order_by(movie_genres.c.movie_id, genres.c.name)
    )
    for movie_id, name in rows:
        out[movie_id].append(name)
    return out


async def movie_cards(conn: AsyncConnection, movie_ids: Sequence[int]) -> dict[int, dict]:
    """``{movie_id: {movie_id, title, year, genres}}`` for the known ids."""
    ids = list(dict.fromkeys(movie_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        select(movies.c.movie_id, movies.c.title, movies.c.year).where(movies.c.movie_id.in_(ids))
    )
    cards = {r.movie_id: {"movie_id": r.movie_id, "title": r.title, "year": r.year} for r in rows}
    by_genre = await genres_of(conn, cards)
    for movie_id, card in cards.items():
        card["genres"] = by_genre.get(movie_id, [])
    return cards


async def search_movies(
    conn: AsyncConnection,
    *,
    q: str | None,
    genre: str | None,
    year: int | None,
    limit: int,
    offset: int,
) -> tuple[int, list[dict]]:
    """Movies matching a title fragment / genre / year, by title; (total, page)."""
    conds = []
    if q:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(func.lower(movies.c.title).like(f"%{escaped}%", escape="\\"))
    if year is not None:
        conds.append(movies.c.year == year)
    if genre:
        conds.append(
            movies.c.movie_id.in_(
                select(movie_genres.c.movie_id)
                .join(genres, genres.c.genre_id == movie_genres.c.genre_id)
                .where(func.lower(genres.c.name) == genre.lower())
            )
        )
    where = and_(literal(True), *conds)
    total = (await conn.execute(select(func.count()).select_from(movies).where(where))).scalar()
    rows = await conn.execute(
        select(movies.c.movie_id)
        .where(where)
        .order_by(movies.c.title, movies.c.movie_id)
        .limit(limit)
        .offset(offset)
    )
    ids = [r.movie_id for r in rows]
    cards = await movie_cards(conn, ids)
    return int(total or 0), [cards[i] for i in ids]


async def search_rows(conn: AsyncConnection) -> list[tuple[int, str, int | None, list[str]]]:
    """Every movie as ``(movie_id, title, year, genres)`` (the gateway's search index)."""
    rows = await conn.execute(select(movies.c.movie_id, movies.c.title, movies.c.year))
    base = [(int(r.movie_id), r.title, r.year) for r in rows]
    by_genre: dict[int, list[str]] = {}
    for movie_id, name in await conn.execute(
        select(movie_genres.c.movie_id, genres.c.name).join(
            genres, genres.c.genre_id == movie_genres.c.genre_id
        )
    ):
        by_genre.setdefault(int(movie_id), []).append(name)
    return [(m, t, y, by_genre.get(m, [])) for m, t, y in base]


async def movie_detail(conn: AsyncConnection, movie_id: int) -> dict | None:
    row = (
        (
            await conn.execute(
                select(
                    movies.c.movie_id,
                    movies.c.title,
                    movies.c.year,
                    movies.c.overview,
                    movies.c.poster_path,
                    movie_imdb_tmdb.c.imdb_id,
                    movie_imdb_tmdb.c.tmdb_id,
                    ml_youtube.c.youtube_id,
                )
                .select_from(
                    movies.outerjoin(
                        movie_imdb_tmdb, movie_imdb_tmdb.c.movie_id == movies.c.movie_id
                    ).outerjoin(ml_youtube, ml_youtube.c.movie_id == movies.c.movie_id)
                )
                .where(movies.c.movie_id == movie_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = dict(row)
    out["genres"] = (await genres_of(conn, [movie_id]))[movie_id]
    out.update(await movie_facts(conn, movie_id))
    return out


async def movie_facts(conn: AsyncConnection, movie_id: int, n_tags: int = 8) -> dict[str, Any]:
    """Mean rating and count, and the tags people use most (user tags, then genome tags)."""
    stats = (
        await conn.execute(
            select(func.avg(rating_explicit.c.rating), func.count()).where(
                rating_explicit.c.movie_id == movie_id
            )
        )
    ).first()
    mean, count = (stats[0], stats[1]) if stats else (None, 0)
    used = func.count().label("n")
    rows = await conn.execute(
        select(func.lower(tags.c.tag).label("tag"), used)
        .where(tags.c.movie_id == movie_id)
        .group_by(func.lower(tags.c.tag))
        .order_by(used.desc(), func.lower(tags.c.tag))
        .limit(n_tags)
    )
    found = [r.tag for r in rows]
    if len(found) < n_tags:
        rows = await conn.execute(
            select(genome_tags.c.tag)
            .join(genome_scores, genome_scores.c.tag_id == genome_tags.c.tag_id)
            .where((genome_scores.c.movie_id == movie_id) & (genome_scores.c.relevance >= 0.8))
            .order_by(genome_scores.c.relevance.desc())
            .limit(n_tags)
        )
        found += [r.tag for r in rows if r.tag.lower() not in found][: n_tags - len(found)]
    return {
        "rating_mean": round(float(mean), 2) if mean is not None else None,
        "rating_count": int(count or 0),
        "tags": found,
    }


async def movie_exists(conn: AsyncConnection, movie_id: int) -> bool:
    found = await conn.execute(select(movies.c.movie_id).where(movies.c.movie_id == movie_id))
    return found.first() is not None


async def popular(conn: AsyncConnection, n: int) -> list[tuple[int, float]]:
    """Most-rated movies, weighted by mean rating: ``count * mean / 5``."""
    score = (func.count() * func.avg(rating_explicit.c.rating) / 5.0).label("score")
    rows = await conn.execute(
        select(rating_explicit.c.movie_id, score)
        .group_by(rating_explicit.c.movie_id)
        .order_by(score.desc(), rating_explicit.c.movie_id)
        .limit(n)
    )
    return [(int(r.movie_id), float(r.score)) for r in rows]


async def movie_genre_map(conn: AsyncConnection, movie_ids: Iterable[int]) -> dict[int, set[str]]:
    return {k: set(v) for k, v in (await genres_of(conn, movie_ids)).items()}


# ------------------------------------------------------------------ personal data
async def list_add(conn: AsyncConnection, user_id: int, movie_id: int) -> None:
    now = int(time.time())
    await conn.execute(
        _upsert(
            conn, user_movielist, {"user_id": user_id, "movie_id": movie_id, "added_at": now}, {}
        )
    )
    await record_event(conn, user_id, movie_id, "list")
    await conn.execute(
        delete(rating_implicit).where(
            (rating_implicit.c.user_id == user_id)
            & (rating_implicit.c.movie_id == movie_id)
            & (rating_implicit.c.event == "unlist")
        )
    )


async def list_remove(conn: AsyncConnection, user_id: int, movie_id: int) -> bool:
    result = await conn.execute(
        delete(user_movielist).where(
            (user_movielist.c.user_id == user_id) & (user_movielist.c.movie_id == movie_id)
        )
    )
    await conn.execute(
        delete(rating_implicit).where(
            (rating_implicit.c.user_id == user_id)
            & (rating_implicit.c.movie_id == movie_id)
            & (rating_implicit.c.event == "list")
        )
    )
    if result.rowcount > 0:  # never recommended or named as a reason again
        await record_event(conn, user_id, movie_id, "unlist")
    return result.rowcount > 0


async def list_get(conn: AsyncConnection, user_id: int) -> list[tuple[int, int]]:
    """``[(movie_id, added_at)]``, most recent first."""
    rows = await conn.execute(
        select(user_movielist.c.movie_id, user_movielist.c.added_at)
        .where(user_movielist.c.user_id == user_id)
        .order_by(user_movielist.c.added_at.desc(), user_movielist.c.movie_id.desc())
    )
    return [(int(r.movie_id), int(r.added_at)) for r in rows]


async def not_interested_add(conn: AsyncConnection, user_id: int, movie_id: int) -> None:
    """Hide a movie from the user's recommendations (idempotent)."""
    values = {"user_id": user_id, "movie_id": movie_id, "added_at": int(time.time())}
    await conn.execute(_upsert(conn, user_not_interested, values, {}))


async def not_interested_remove(conn: AsyncConnection, user_id: int, movie_id: int) -> bool:
    result = await conn.execute(
        delete(user_not_interested).where(
            (user_not_interested.c.user_id == user_id)
            & (user_not_interested.c.movie_id == movie_id)
        )
    )
    return result.rowcount > 0


async def not_interested(conn: AsyncConnection, user_id: int) -> list[tuple[int, int]]:
    """``[(movie_id, added_at)]`` the user hid, most recent first (every strategy skips them)."""
    rows = await conn.execute(
        select(user_not_interested.c.movie_id, user_not_interested.c.added_at)
        .where(user_not_interested.c.user_id == user_id)
        .order_by(user_not_interested.c.added_at.desc(), user_not_interested.c.movie_id.desc())
    )
    return [(int(r.movie_id), int(r.added_at)) for r in rows]


async def rate(
    conn: AsyncConnection, user_id: int, movie_id: int, rating: float
) -> tuple[float, int]:
    """Store the rating; (rating, rated_at) as this call stored them. Not read back: a
    concurrent identical upsert changes no row, and a snapshot read would then miss it."""
    now = int(time.time())
    await conn.execute(
        _upsert(
            conn,
            rating_explicit,
            {"user_id": user_id, "movie_id": movie_id, "rating": rating, "rated_at": now},
            {"rating": rating, "rated_at": now},
        )
    )
    await record_event(conn, user_id, movie_id, "rating")
    return rating, now


async def record_event(conn: AsyncConnection, user_id: int, movie_id: int, event: str) -> None:
    now = int(time.time())
    await conn.execute(
        _upsert(
            conn,
            rating_implicit,
            {"user_id": user_id, "movie_id": movie_id, "event": event, "last_at": now},
            {"event_count": rating_implicit.c.event_count + 1, "last_at": now},
        )
    )


async def ratings_of(conn: AsyncConnection, user_id: int) -> list[tuple[int, float, int]]:
    rows = await conn.execute(
        select(rating_explicit.c.movie_id, rating_explicit.c.rating, rating_explicit.c.rated_at)
        .where(rating_explicit.c.user_id == user_id)
        .order_by(rating_explicit.c.rated_at.desc(), rating_explicit.c.movie_id)
    )
    return [(int(r.movie_id), float(r.rating), int(r.rated_at)) for r in rows]


#: Ratings below this are not "liked": such a movie is never named as a reason.
LIKE_THRESHOLD = 3.0
#: Interaction events that are not watching a movie (excluded from the history).
NOT_WATCHED = ("list", "unlist")


@dataclass
class UserHistory:
    """What recommendations read of one user (see :func:`history`)."""

    recent: list[int]  # watched/rated movies, most recent first, at most n
    seen: set[int]  # everything never to recommend again (watched, rated, listed, removed)
    low_rated: set[int]  # rated below LIKE_THRESHOLD, or removed from the list
    listed: list[int]  # the personal list, most recent first


async def history(conn: AsyncConnection, user_id: int, n: int) -> UserHistory:
    """One user's history, list and exclusions, in three reads."""
    rows = await conn.execute(
        select(
            rating_implicit.c.movie_id,
            rating_implicit.c.event,
            rating_implicit.c.last_at,
        ).where(rating_implicit.c.user_id == user_id)
    )
    latest: dict[int, int] = {}
    removed: set[int] = set()
    for movie_id, event, at in rows:
        if event == "unlist":
            removed.add(int(movie_id))
        elif event not in NOT_WATCHED:
            latest[int(movie_id)] = max(int(at), latest.get(int(movie_id), 0))
    ordered = sorted(latest, key=lambda m: (-latest[m], -m))
    rated = await conn.execute(
        select(rating_explicit.c.movie_id, rating_explicit.c.rating).where(
            rating_explicit.c.user_id == user_id
        )
    )
    ratings = {int(r.movie_id): float(r.rating) for r in rated}
    listed = [m for m, _ in await list_get(conn, user_id)]
    removed -= set(listed)
    low = {m for m, r in ratings.items() if r < LIKE_THRESHOLD} | removed
    seen = set(ordered) | set(ratings) | set(listed) | removed
    return UserHistory(ordered[:n], seen, low, listed)


async def daily_movies(conn: AsyncConnection, kind: str, n: int) -> tuple[Any, list[int]]:
    """(day, movie ids by rank) of the latest ``daily_update`` rows of ``kind``."""
    day = (
        await conn.execute(select(func.max(daily_update.c.day)).where(daily_update.c.kind == kind))
    ).scalar()
    if day is None:
        return None, []
    rows = await conn.execute(
        select(daily_update.c.movie_id)
        .where((daily_update.c.day == day) & (daily_update.c.kind == kind))
        .order_by(daily_update.c.rank)
        .limit(n)
    )
    return day, [int(r.movie_id) for r in rows]
