"""``daily_update``: the day's new and trending movies (reads of movies and events, and
the day's rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, delete, func, insert, select

from kryptonite.store.tables import daily_update, movies, rating_implicit


def newest_movies(conn: Connection, n: int) -> list[tuple[int, int | None]]:
    """(movie_id, year) of the ``n`` most recently added movies, newest release first on
    ties."""
    rows = conn.execute(
        select(movies.c.movie_id, movies.c.year)
        .order_by(
            movies.c.added_at.desc(),
            movies.c.year.is_(None),
            movies.c.year.desc(),
            movies.c.movie_id.desc(),
        )
        .limit(n)
    )
    return [(int(r.movie_id), r.year) for r in rows]


def latest_event_at(conn: Connection) -> int | None:
    """Epoch seconds of the latest interaction recorded, None when there is none."""
    latest = conn.execute(select(func.max(rating_implicit.c.last_at))).scalar()
    return None if latest is None else int(latest)


def most_interacted(conn: Connection, since: int | None, n: int) -> list[tuple[int, float]]:
    """(movie_id, events) of the ``n`` movies with most interactions since ``since``
    (all time when None); a removal from a list is no vote for a movie."""
    score = func.sum(rating_implicit.c.event_count).label("score")
    query = (
        select(rating_implicit.c.movie_id, score)
        .where(rating_implicit.c.event != "unlist")
        .group_by(rating_implicit.c.movie_id)
    )
    if since is not None:
        query = query.where(rating_implicit.c.last_at >= since)
    rows = conn.execute(query.order_by(score.desc(), rating_implicit.c.movie_id).limit(n))
    return [(int(r.movie_id), float(r.score)) for r in rows]


def replace_day(
    conn: Connection, day: dt.date, rows: Mapping[str, Sequence[tuple[int, float]]]
) -> None:
    """The rows of ``day`` become ``rows`` (kind -> (movie_id, score), best first)."""
    conn.execute(delete(daily_update).where(daily_update.c.day == day))
    for kind, items in rows.items():
        if items:
            conn.execute(
                insert(daily_update),
                [
                    {"day": day, "kind": kind, "movie_id": m, "rank": r, "score": s}
                    for r, (m, s) in enumerate(items, start=1)
                ],
            )
