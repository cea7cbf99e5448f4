"""``kryptonite precompute`` and ``kryptonite daily-update``: the jobs that refresh what
the gateway serves (``register(app)`` adds them)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from kryptonite.config import Settings, get_settings
from kryptonite.logging import configure_logging


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return settings


def precompute_command(
    shard: Annotated[int, typer.Option(help="This shard (JOB_COMPLETION_INDEX).")] = 0,
    shards: Annotated[int, typer.Option(help="Number of shards.", min=1)] = 1,
) -> None:
    """Every user's lists of one shard, by the live path in-process, into cache and DB."""
    from kryptonite.pipeline.precompute import run

    if not 0 <= shard < shards:
        raise typer.BadParameter(f"--shard must be in [0, {shards})")
    result = run(_settings(), shard, shards)
    lists = ", ".join(f"{k} {v:,}" for k, v in sorted(result.lists.items())) or "none"
    typer.echo(
        f"shard {shard}/{shards}: {result.users:,} users in {result.seconds:.1f}s; lists: {lists}"
    )
    for strategy, count in sorted(result.degraded.items()):
        typer.echo(f"{strategy}: {count:,} degraded lists not stored (computed live instead)")
    if result.cache_errors:
        typer.echo(f"cache unavailable for {result.cache_errors} writes (DB rows written)")


def daily_update_command(
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today, UTC).")] = None,
    n: Annotated[int, typer.Option("--n", help="Movies per kind.", min=1)] = 20,
    window_days: Annotated[int, typer.Option(help="Trending window in days.", min=1)] = 7,
) -> None:
    """Record the day's new and trending movies in daily_update."""
    from kryptonite.pipeline.daily import daily_update_rows
    from kryptonite.store.engine import create_sync_engine

    settings = _settings()
    when = dt.date.fromisoformat(day) if day else None
    engine = create_sync_engine(settings.resolved_database_url)
    try:
        counts = daily_update_rows(engine, when, n=n, window_days=window_days)
    finally:
        engine.dispose()
    typer.echo("daily_update: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def register(app: typer.Typer) -> None:
    """Add ``precompute`` and ``daily-update`` to the ``kryptonite`` command."""
    app.command("precompute")(precompute_command)
    app.command("daily-update")(daily_update_command)
