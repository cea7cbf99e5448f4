"""``kryptonite daily-update``: the day's new and trending movies into ``daily_update``.

*new*: the most recently added movies (``movies.added_at``), newest release first on ties.
*trending*: most interactions (ratings, views, clicks, list adds) in the ``window_days``
before the latest interaction recorded (so historical data sets trend too); all-time
counts fill the list when the window is quiet. Re-running for the same day replaces that
day's rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from kryptonite.store.daily import latest_event_at, most_interacted, newest_movies, replace_day


def daily_update_rows(
    engine: Engine, day: dt.date | None = None, *, n: int = 20, window_days: int = 7
) -> dict[str, int]:
    """Write the rows of ``day`` (default: today, UTC); returns rows per kind."""
    day = day or dt.datetime.now(dt.UTC).date()
    with engine.begin() as conn:
        newest = newest_movies(conn, n)
        latest = latest_event_at(conn)
        trending: list[tuple[int, float]] = []
        if latest is not None:
            trending = most_interacted(conn, latest - window_days * 86400, n)
            seen = {m for m, _ in trending}
            trending += [t for t in most_interacted(conn, None, n) if t[0] not in seen]
        rows = {
            "new": [(m, float(year or 0)) for m, year in newest],
            "trending": trending[:n],
        }
        replace_day(conn, day, rows)
    return {kind: len(items) for kind, items in rows.items()}
