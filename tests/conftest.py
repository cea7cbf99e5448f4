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


def train_small(data_dir: Path, artifacts: Path) -> None:
    """Small real models of ml-latest-small, each published as a new version in
    ``artifacts`` (a second call publishes newer versions: services hot-reload them)."""
    from kryptonite.datasets.movielens import load_dataset
    from kryptonite.datasets.registry import get_spec
    from kryptonite.models.content import ContentModel
    from kryptonite.models.item2item import ItemKNN, ItemRidge
    from kryptonite.models.mf import ImplicitMF
    from kryptonite.models.ncf.model import NCF
    from kryptonite.models.popularity import Popularity
    from kryptonite.models.ranker.model import StageTwoRanker
    from kryptonite.pipeline.train import train_all, train_data
    from kryptonite.serving.config import ServedConfig
    from kryptonite.serving.stage1 import stage1_builder
    from kryptonite.store.artifacts import LocalArtifactStore

    spec = get_spec("ml-latest-small")
    frames = load_dataset(spec, data_dir / spec.dirname)
    data = train_data(ratings=frames.ratings, movies=frames.movies, tags=frames.tags)
    stage1 = {
        "popularity": Popularity,
        "content": ContentModel,
        "item2item": lambda: ItemKNN(neighbours=30),
        "item_ridge": lambda: ItemRidge(l2=100.0, min_count=10),
        "mf_implicit": lambda: ImplicitMF(factors=16, iterations=3, alpha=10.0, threads=1),
    }
    ranker = StageTwoRanker(
        stage1=stage1_builder(stage1, ServedConfig()), holdout=2, max_users=150, epochs=20
    )
    models = {
        **stage1,
        "ncf": lambda: NCF(factors=8, layers=[16, 8], epochs=1, threads=1),
        "ranker": lambda: ranker,
    }
    train_all(data, LocalArtifactStore(artifacts), models=models, progress=False)
