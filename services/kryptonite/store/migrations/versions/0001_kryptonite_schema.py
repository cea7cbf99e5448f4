"""kryptonite schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Every table of the Kryptonite design, the two views, and the model types.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kryptonite.store.tables import APP_USER_ID_START, MODEL_TYPES, VIEWS, view_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_loads",
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.PrimaryKeyConstraint("dataset", name=op.f("pk_dataset_loads")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "genome_tags",
        sa.Column("tag_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("tag_id", name=op.f("pk_genome_tags")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "genres",
        sa.Column("genre_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("genre_id", name=op.f("pk_genres")),
        sa.UniqueConstraint("name", name=op.f("uq_genres_name")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "models_type",
        sa.Column("model_type", sa.String(length=32), nullable=False),
        sa.Column("feedback", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("model_type", name=op.f("pk_models_type")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "movies",
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=True),
        sa.Column("overview", sa.Text(), nullable=True),
        sa.Column("poster_path", sa.String(length=255), nullable=True),
        sa.Column(
            "added_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.PrimaryKeyConstraint("movie_id", name=op.f("pk_movies")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("movies", schema=None) as batch_op:
        batch_op.create_index("ix_movies_title", ["title"], unique=False)
        batch_op.create_index("ix_movies_year", ["year"], unique=False)

    op.create_table(
        "users",
        sa.Column("user_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=16), server_default="app", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        sqlite_autoincrement=True,
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "daily_update",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_daily_update_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("day", "kind", "movie_id", name=op.f("pk_daily_update")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "genome_scores",
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tag_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("relevance", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_genome_scores_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["genome_tags.tag_id"],
            name=op.f("fk_genome_scores_tag_id_genome_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("movie_id", "tag_id", name=op.f("pk_genome_scores")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "ml_youtube",
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("youtube_id", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_ml_youtube_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("movie_id", name=op.f("pk_ml_youtube")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("artifact_uri", sa.String(length=1024), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["model_type"],
            ["models_type.model_type"],
            name=op.f("fk_model_versions_model_type_models_type"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint(
            "model_type", "version", name=op.f("uq_model_versions_model_type_version")
        ),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_model_versions_model_type_status", ["model_type", "status"], unique=False
        )

    op.create_table(
        "movie_genres",
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("genre_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["genre_id"],
            ["genres.genre_id"],
            name=op.f("fk_movie_genres_genre_id_genres"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_movie_genres_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("movie_id", "genre_id", name=op.f("pk_movie_genres")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("movie_genres", schema=None) as batch_op:
        batch_op.create_index("ix_movie_genres_genre_id", ["genre_id"], unique=False)

    op.create_table(
        "movie_imdb_tmdb",
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("imdb_id", sa.String(length=16), nullable=True),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_movie_imdb_tmdb_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("movie_id", name=op.f("pk_movie_imdb_tmdb")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("movie_imdb_tmdb", schema=None) as batch_op:
        batch_op.create_index("ix_movie_imdb_tmdb_tmdb_id", ["tmdb_id"], unique=False)

    op.create_table(
        "rating_explicit",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.Column("rated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_rating_explicit_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_rating_explicit_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "movie_id", name=op.f("pk_rating_explicit")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("rating_explicit", schema=None) as batch_op:
        batch_op.create_index("ix_rating_explicit_movie_id", ["movie_id"], unique=False)
        batch_op.create_index(
            "ix_rating_explicit_user_id_rated_at", ["user_id", "rated_at"], unique=False
        )

    op.create_table(
        "rating_implicit",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("event_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_rating_implicit_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_rating_implicit_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "movie_id", "event", name=op.f("pk_rating_implicit")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("rating_implicit", schema=None) as batch_op:
        batch_op.create_index("ix_rating_implicit_movie_id", ["movie_id"], unique=False)
        batch_op.create_index(
            "ix_rating_implicit_user_id_last_at", ["user_id", "last_at"], unique=False
        )

    op.create_table(
        "tags",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.Column("tagged_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_tags_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_tags_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "movie_id", "tag", name=op.f("pk_tags")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index("ix_tags_movie_id", ["movie_id"], unique=False)

    op.create_table(
        "user_movielist",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("movie_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_user_movielist_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_user_movielist_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "movie_id", name=op.f("pk_user_movielist")),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    with op.batch_alter_table("user_movielist", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_movielist_user_id_added_at", ["user_id", "added_at"], unique=False
        )

    op.create_table(
        "user_recommendations",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("model_type", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["model_type"],
            ["models_type.model_type"],
            name=op.f("fk_user_recommendations_model_type_models_type"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["movie_id"],
            ["movies.movie_id"],
            name=op.f("fk_user_recommendations_movie_id_movies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.user_id"],
            name=op.f("fk_user_recommendations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "model_type", "rank", name=op.f("pk_user_recommendations")
        ),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.get_bind().execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('users', :seq)"),
            {"seq": APP_USER_ID_START - 1},
        )
    else:  # DDL takes no bound parameters; the value is an int constant of ours
        op.execute(f"ALTER TABLE users AUTO_INCREMENT = {int(APP_USER_ID_START)}")
    for name in VIEWS:
        op.execute(view_sql(name, dialect))
    models_type = sa.table(
        "models_type",
        sa.column("model_type", sa.String),
        sa.column("feedback", sa.String),
        sa.column("description", sa.String),
    )
    op.bulk_insert(
        models_type,
        [{"model_type": t, "feedback": f, "description": d} for t, f, d in MODEL_TYPES],
    )


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("user_recommendations")
    op.drop_table("user_movielist")
    op.drop_table("tags")
    op.drop_table("rating_implicit")
    op.drop_table("rating_explicit")
    op.drop_table("movie_imdb_tmdb")
    op.drop_table("movie_genres")
    op.drop_table("model_versions")
    op.drop_table("ml_youtube")
    op.drop_table("genome_scores")
    op.drop_table("daily_update")
    op.drop_table("users")
    op.drop_table("movies")
    op.drop_table("models_type")
    op.drop_table("genres")
    op.drop_table("genome_tags")
    op.drop_table("dataset_loads")
