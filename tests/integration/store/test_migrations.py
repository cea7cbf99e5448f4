"""The same migrations build the same schema on MariaDB and SQLite."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from kryptonite.store import tables as t
from kryptonite.store.migrate import downgrade, upgrade


def test_migrations_match_the_table_definitions(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, t.metadata) == []


def test_downgrade_and_upgrade_round_trip(migrated_engine: Engine) -> None:
    downgrade(migrated_engine, "base")
    with migrated_engine.connect() as conn:
        names = set(migrated_engine.dialect.get_table_names(conn))
    assert names <= {"alembic_version"}
    upgrade(migrated_engine)
    with migrated_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.models_type)).scalar() == len(
            t.MODEL_TYPES
        )


def _seed_movie_and_user(conn) -> int:
    conn.execute(insert(t.movies).values(movie_id=1, title="Alien (1979)", year=1979))
    user_id = conn.execute(insert(t.users).values(username="ripley")).inserted_primary_key[0]
    conn.execute(
        insert(t.rating_explicit).values(user_id=user_id, movie_id=1, rating=5.0, rated_at=1)
    )
    conn.execute(insert(t.user_movielist).values(user_id=user_id, movie_id=1, added_at=1))
    return user_id


def test_app_users_get_ids_above_movielens_ids(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as conn:
        assert _seed_movie_and_user(conn) >= t.APP_USER_ID_START


def test_deleting_a_movie_cascades(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as conn:
        _seed_movie_and_user(conn)
        conn.execute(t.movies.delete().where(t.movies.c.movie_id == 1))
        for table in (t.rating_explicit, t.user_movielist):
            assert conn.execute(select(func.count()).select_from(table)).scalar() == 0


def test_primary_keys_forbid_duplicate_ratings(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as conn:
        user_id = _seed_movie_and_user(conn)
    with pytest.raises(IntegrityError), migrated_engine.begin() as conn:
        conn.execute(
            insert(t.rating_explicit).values(user_id=user_id, movie_id=1, rating=1.0, rated_at=2)
        )


def test_views_join_genres(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as conn:
        user_id = _seed_movie_and_user(conn)
        conn.execute(insert(t.genres), [{"name": "Sci-Fi"}, {"name": "Horror"}])
        ids = dict(conn.execute(select(t.genres.c.name, t.genres.c.genre_id)).all())
        conn.execute(insert(t.movie_genres), [{"movie_id": 1, "genre_id": i} for i in ids.values()])
        row = conn.execute(text("SELECT user_id, movie_id, genres FROM content_based_view")).one()
        assert tuple(row) == (user_id, 1, "Horror|Sci-Fi")
        row = conn.execute(text("SELECT movie_id, title, genres FROM train_content_data")).one()
        assert tuple(row) == (1, "Alien (1979)", "Horror|Sci-Fi")
