"""What the pages show, read through the same queries and Orchestrator as the JSON API."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from kryptonite.gateway.recommend import Orchestrator
from kryptonite.gateway.schemas import RecList, Strategy
from kryptonite.gateway.state import GatewayState
from kryptonite.reasons import anchor_title_in
from kryptonite.store import queries
from kryptonite.store.tables import movies

#: The recommendation rows of the "For you" page: (strategy, row title, what it is).
MODEL_ROWS: tuple[tuple[Strategy, str, str], ...] = (
    (Strategy.blend, "Top picks for you", "The best of every row below, ranked for you"),
    (Strategy.content, "Similar to your list", "Alike in genres, tags and story (content model)"),
    (
        Strategy.cf,
        "People like you watched",
        "Loved by viewers with your taste (matrix factorization)",
    ),
    (
        Strategy.ncf,
        "Neural picks",
        "Chosen by a neural network that learned from everyone's ratings",
    ),
    (Strategy.item2item, "Because you liked", "Often watched together with yours (item-to-item)"),
)
log = logging.getLogger("kryptonite.gateway.web")


@dataclass
class Row:
    """One row of movie cards."""

    key: str
    title: str
    subtitle: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    notice: str | None = None
    empty: str = "Nothing here yet."
    #: Cards get a "Not interested" button (recommendation rows of a signed-in user).
    hideable: bool = False

    def without(self, hidden: set[int]) -> Row:
        """The row less the movies the user is not interested in."""
        self.items = [i for i in self.items if i["movie_id"] not in hidden]
        return self


async def posters(conn: AsyncConnection, movie_ids: list[int]) -> dict[int, str]:
    """Stored TMDB poster paths of the movies that have one (see ``kryptonite enrich``)."""
    if not movie_ids:
        return {}
    rows = await conn.execute(
        select(movies.c.movie_id, movies.c.poster_path).where(
            movies.c.movie_id.in_(set(movie_ids)) & movies.c.poster_path.is_not(None)
        )
    )
    return {int(r.movie_id): r.poster_path for r in rows}


async def add_posters(state: GatewayState, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` with ``poster_path`` set where one is stored (none when the DB is down)."""
    try:
        async with state.read() as conn:
            found = await posters(conn, [i["movie_id"] for i in items])
    except (SQLAlchemyError, OSError):
        found = {}
    for item in items:
        item.setdefault("poster_path", found.get(item["movie_id"]))
    return items


async def hidden_ids(state: GatewayState, user_id: int) -> set[int]:
    """Movies the user is not interested in (none when the database is down: the
    recommendation lists already leave them out)."""
    try:
        async with state.read() as conn:
            return {m for m, _ in await queries.not_interested(conn, user_id)}
    except (SQLAlchemyError, OSError, TimeoutError):
        return set()


async def cards(conn: AsyncConnection, ids: list[int]) -> list[dict[str, Any]]:
    found = await queries.movie_cards(conn, ids)
    pics = await posters(conn, ids)
    return [found[m] | {"poster_path": pics.get(m)} for m in ids if m in found]


def degraded_words(reason: str | None, what: str = "row") -> str:
    """What a movie fan reads when a list is a fallback; the technical cause
    (``RecList.degraded_reason``, e.g. ``"ranking_deadline_exceeded"``) goes to the log.

    ``what``: ``"row"`` (a recommendation row), ``"similar"`` (a movie's similar movies)
    or ``"failed"`` (the row could not be filled at all).
    """
    log.info("fallback shown (%s): %s", what, reason or "unknown")
    if what == "similar":
        return "For now these are popular movies of the same genres; closer matches are back soon."
    if what == "failed":
        return "These picks didn't load. Try again in a moment."
    return "Popular picks for now: your personal picks are on their way, check back shortly."


async def home_rows(state: GatewayState, conn: AsyncConnection, per_row: int = 12) -> list[Row]:
    """Popular, new, trending (``daily_update``) and the most common genres' popular movies."""
    catalog = state.catalog
    popular = [m for m, _ in catalog.popular]
    top = await cards(conn, popular[:per_row])
    rows = [Row("popular", "Popular", "Most rated, best rated", top)]
    for kind, title in (("new", "New"), ("trending", "Trending")):
        day, ids = await queries.daily_movies(conn, kind, per_row)
        sub = f"Updated {day}" if day else "Coming soon: this row fills in every day."
        rows.append(Row(kind, title, sub, await cards(conn, ids)))
    counts = Counter(g for m in popular[:500] for g in catalog.genres.get(m, ()))
    for genre, _ in counts.most_common(4):
        ids = [m for m in popular if genre in catalog.genres.get(m, ())][:per_row]
        slug = re.sub(r"[^a-z0-9]+", "-", genre.lower()).strip("-")
        rows.append(Row(f"genre-{slug}", genre, f"Popular {genre} movies", await cards(conn, ids)))
    return rows


async def recommendation_rows(state: GatewayState, user_id: int, n: int = 10) -> list[Row]:
    """One row per model, computed concurrently; a failing row says so in words."""
    recommender = Orchestrator(state)

    async def one(strategy: Strategy) -> RecList | Exception:
        try:
            answer = await recommender.recommend(user_id, strategy, n)
            # The JSON routes get the body ready-made (bytes); older versions a RecList.
            if isinstance(answer, bytes | str):
                return RecList.model_validate_json(answer)
            return answer
        except (grpc.aio.AioRpcError, SQLAlchemyError, OSError) as exc:
            return exc

    results = await asyncio.gather(*(one(s) for s, _, _ in MODEL_ROWS))
    rows = []
    for (strategy, title, subtitle), result in zip(MODEL_ROWS, results, strict=True):
        row = Row(strategy.value, title, subtitle, hideable=True)
        if isinstance(result, Exception):
            row.notice = degraded_words(type(result).__name__, "failed")
        else:
            row.items = await add_posters(state, [i.model_dump() for i in result.items])
            row.notice = degraded_words(result.degraded_reason) if result.degraded else None
        if strategy is Strategy.item2item:
            row.title = _because_title(row.items)
            row.empty = "Add or rate a few movies: this row shows what people watch with them."
        if strategy is Strategy.cf:
            row.empty = "Add or rate a few movies: this row shows what similar viewers liked."

        rows.append(row)
    return rows


async def personal_row(state: GatewayState, user_id: int, n: int = 12) -> Row:
    """The signed-in home page's first row: the blend of every model for this user."""
    strategy, title, _ = MODEL_ROWS[0]
    row = Row("for-you", title, "The best of every model, ranked for you", hideable=True)
    row.empty = "Add or rate a few movies and your picks appear here."
    try:
        body = await Orchestrator(state).recommend(user_id, strategy, n)
        result = RecList.model_validate_json(body)
    except (grpc.aio.AioRpcError, SQLAlchemyError, OSError) as exc:
        row.notice = degraded_words(type(exc).__name__, "failed")
        return row
    row.items = await add_posters(state, [i.model_dump() for i in result.items])
    row.notice = degraded_words(result.degraded_reason) if result.degraded else None
    return row


def _because_title(items: list[dict[str, Any]]) -> str:
    """ "Because you liked <the title most items are anchored to>"."""
    anchors = Counter(title for item in items if (title := anchor_title_in(item.get("reason", ""))))
    if not anchors:
        return "Because you liked…"
    return f"Because you liked {anchors.most_common(1)[0][0]}"
