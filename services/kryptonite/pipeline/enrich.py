"""``kryptonite enrich``: TMDB poster paths and overviews into ``movies``.

A batch job (run it after ingest, or nightly); pages only read what it stored and never
call TMDB. Movies are matched by ``movie_imdb_tmdb.tmdb_id``; a movie TMDB does not know
is skipped. Rate limits (429) and server errors are retried after ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import typer
from sqlalchemy import Engine

from kryptonite.store.enrichment import pending, store_enrichment

log = logging.getLogger("kryptonite.enrich")
TMDB_API = "https://api.themoviedb.org/3"


@dataclass
class EnrichResult:
    checked: int = 0
    updated: int = 0
    unknown: int = 0
    failed: int = 0


def _auth(api_key: str) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, params): v4 read tokens (JWTs) go in a header, v3 keys in the query."""
    if api_key.startswith("eyJ"):
        return {"Authorization": f"Bearer {api_key}"}, {}
    return {}, {"api_key": api_key}


async def fetch_movie(
    client: httpx.AsyncClient, tmdb_id: int, retries: int = 3
) -> dict[str, Any] | None:
    """TMDB's movie record, None when TMDB does not know the id."""
    for attempt in range(retries + 1):
        reply = await client.get(f"/movie/{tmdb_id}")
        if reply.status_code == 404:
            return None
        if (reply.status_code == 429 or reply.status_code >= 500) and attempt < retries:
            try:
                wait = float(reply.headers.get("Retry-After", ""))
            except ValueError:
                wait = 0.5 * 2**attempt
            await asyncio.sleep(min(wait, 10.0))
            continue
        reply.raise_for_status()
        return reply.json()
    return None


async def _fetch_all(
    rows: list[dict[str, Any]],
    client: httpx.AsyncClient,
    concurrency: int,
    result: EnrichResult,
    refresh: bool,
) -> list[dict[str, Any]]:
    gate = asyncio.Semaphore(concurrency)

    async def one(row: dict[str, Any]) -> dict[str, Any] | None:
        async with gate:
            try:
                found = await fetch_movie(client, int(row["tmdb_id"]))
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("TMDB %s: %s", row["tmdb_id"], exc)
                result.failed += 1
                return None
        if not found:
            result.unknown += 1
            return None
        poster = found.get("poster_path") or None
        fetched = (found.get("overview") or "").strip() or None
        overview = (fetched or row["overview"]) if refresh else (row["overview"] or fetched)
        return {"id": row["movie_id"], "poster": poster, "overview": overview}

    answers = await asyncio.gather(*(one(r) for r in rows))
    return [a for a in answers if a is not None]


def enrich(
    engine: Engine,
    api_key: str,
    *,
    api_base: str = TMDB_API,
    limit: int | None = None,
    refresh: bool = False,
    concurrency: int = 4,
    transport: httpx.AsyncBaseTransport | None = None,
) -> EnrichResult:
    """Fetch and store poster paths, and overviews where none is stored (all with
    ``refresh``)."""
    rows = pending(engine, limit, refresh)
    result = EnrichResult(checked=len(rows))
    headers, params = _auth(api_key)

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            base_url=api_base, headers=headers, params=params, timeout=10, transport=transport
        ) as client:
            return await _fetch_all(rows, client, concurrency, result, refresh)

    updates = asyncio.run(run())
    store_enrichment(engine, updates)
    result.updated = len(updates)
    return result


def enrich_command(
    tmdb_api_key: Annotated[
        str,
        typer.Option(envvar="KRYPTONITE_TMDB_API_KEY", help="TMDB v3 API key or v4 token."),
    ],
    limit: Annotated[int | None, typer.Option(help="At most this many movies.", min=1)] = None,
    refresh: Annotated[bool, typer.Option(help="Re-fetch movies that have a poster.")] = False,
    concurrency: Annotated[int, typer.Option(help="Parallel requests.", min=1, max=32)] = 4,
    api_base: Annotated[str, typer.Option(help="TMDB API base URL.")] = TMDB_API,
) -> None:
    """Store TMDB poster paths and overviews for the web UI (never fetched per page)."""
    from kryptonite.config import get_settings
    from kryptonite.logging import configure_logging
    from kryptonite.store.engine import create_sync_engine

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    engine = create_sync_engine(settings.resolved_database_url)
    try:
        r = enrich(
            engine,
            tmdb_api_key,
            api_base=api_base,
            limit=limit,
            refresh=refresh,
            concurrency=concurrency,
        )
    finally:
        engine.dispose()
    typer.echo(
        f"enrich: {r.checked} checked, {r.updated} updated, "
        f"{r.unknown} unknown to TMDB, {r.failed} failed"
    )


def register(app: typer.Typer) -> None:
    """Add ``enrich`` to the ``kryptonite`` command."""
    app.command("enrich")(enrich_command)
