"""``kryptonite daily-update``: the day's new and trending movies into ``daily_update``.

*new*: the most recently added movies (``movies.added_at``), newest release first on ties.
*trending*: most interactions (ratings, views, clicks, list adds) in the ``window_days``
before the latest interaction recorded (so historical data sets trend too), at least
``min_events`` of them; all-time counts fill the list when the window is quiet.
Re-running for the same day replaces that day's rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete, func, insert, select

from kryptonite.store.tables import daily_update, movies, rating_implicit


def _trending(conn, since: int | None, n: int) -> list[tuple[int, float]]:
    score = func.sum(rating_implicit.c.event_count).label("score")
    query = (
        select(rating_implicit.c.movie_id, score)
        .where(rating_implicit.c.event != "unlist")  # a removal is no vote for a movie
        .group_by(rating_implicit.c.movie_id)
    )
    if since is not None:
        query = query.where(rating_implicit.c.last_at >= since)
    rows = conn.execute(query.order_by(score.desc(), rating_implicit.c.movie_id).limit(n))
    return [(int(r.movie_id), float(r.score)) for r in rows]


def daily_update_rows(
    engine: Engine, day: dt.date | None = None, *, n: int = 20, window_days: int = 7
) -> dict[str, int]:
    """Write the rows of ``day`` (default: today, UTC); returns rows per kind."""
    day = day or dt.datetime.now(dt.UTC).date()
    with engine.begin() as conn:
        newest = conn.execute(
            select(movies.c.movie_id, movies.c.year)
            .order_by(
                movies.c.added_at.desc(),
                movies.c.year.is_(None),
                movies.c.year.desc(),
                movies.c.movie_id.desc(),
            )
            .limit(n)
        ).all()
        latest = conn.execute(select(func.max(rating_implicit.c.last_at))).scalar()
        trending: list[tuple[int, float]] = []
        if latest is not None:
            trending = _trending(conn, int(latest) - window_days * 86400, n)
            seen = {m for m, _ in trending}
            trending += [t for t in _trending(conn, None, n) if t[0] not in seen]
        rows = {
            "new": [(m, float(year or 0)) for m, year in newest],
            "trending": trending[:n],
        }
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
    return {kind: len(items) for kind, items in rows.items()}
