"""Engines for the configured database: sync (jobs, CLI) and async (services)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_SYNC_DRIVERS = {"mysql": "mysql+pymysql", "mariadb": "mysql+pymysql", "sqlite": "sqlite"}
_ASYNC_DRIVERS = {
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "sqlite": "sqlite+aiosqlite",
}


def _with_driver(url: str, drivers: dict[str, str]) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: use mysql/mariadb or sqlite")
    parsed = parsed.set(drivername=drivers[backend])
    if backend != "sqlite":
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    elif parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_sync_engine(url: str) -> Engine:
    """A pooled engine for jobs; MySQL gets utf8mb4 and LOCAL INFILE, SQLite gets FKs on."""
    parsed = _with_driver(url, _SYNC_DRIVERS)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        parsed, pool_pre_ping=True, pool_recycle=3600, connect_args={"local_infile": True}
    )


def create_async_db_engine(url: str) -> AsyncEngine:
    """The async twin used by services (aiomysql / aiosqlite)."""
    parsed = _with_driver(url, _ASYNC_DRIVERS)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(parsed, pool_pre_ping=True, pool_recycle=3600)


def is_mysql(engine: Engine | AsyncEngine) -> bool:
    return engine.dialect.name in ("mysql", "mariadb")
