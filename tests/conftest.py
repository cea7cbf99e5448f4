"""Shared fixtures: data folder, and fresh databases on real MariaDB and SQLite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from kryptonite.store.engine import create_sync_engine
from kryptonite.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("KRYPTONITE_TEST_DATA_DIR", ROOT.parent / "shared" / "data"))
MYSQL_URL = os.environ.get("KRYPTONITE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS_URL = os.environ.get("KRYPTONITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "ml-latest-small" / "ratings.csv").exists():
        pytest.fail(f"MovieLens test data not found in {DATA_DIR} (set KRYPTONITE_TEST_DATA_DIR)")
    return DATA_DIR


def create_mysql_database() -> tuple[str, Engine]:
    """A fresh, uniquely named database on the test MariaDB server."""
    name = f"kryptonite_test_{uuid.uuid4().hex[:10]}"
    server = create_sync_engine(MYSQL_URL + "/mysql")
    with server.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    server.dispose()
    url = make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)
    return url, create_sync_engine(url)


def drop_mysql_database(url: str) -> None:
    server = create_sync_engine(MYSQL_URL + "/mysql")
    with server.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{make_url(url).database}`")
    server.dispose()


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """URL of an empty MariaDB database, dropped after the test."""
    url, engine = create_mysql_database()
    engine.dispose()
    yield url
    drop_mysql_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kryptonite.sqlite'}"


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs on both backends."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kryptonite.sqlite'}"
        return
    url, engine = create_mysql_database()
    engine.dispose()
    yield url
    drop_mysql_database(url)


@pytest.fixture
def migrated_engine(db_url: str) -> Iterator[Engine]:
    engine = create_sync_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()
