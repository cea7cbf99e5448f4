"""The Kryptonite schema as SQLAlchemy Core tables (MySQL/MariaDB and SQLite).

Migrations under ``migrations/`` create exactly this schema; a test compares the two.
Deviations from the original design are explained in docs/schema.md.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects import mysql

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
MYSQL_TABLE_ARGS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}

metadata = MetaData(naming_convention=NAMING)

#: A canonical username: binary collation on MySQL/MariaDB (SQLite compares bytes anyway).
CANONICAL_NAME = String(64).with_variant(
    mysql.VARCHAR(64, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)

#: Accounts created in the app get ids from here up, so MovieLens ids never collide.
APP_USER_ID_START = 1_000_000_000


def _fk(target: str) -> ForeignKey:
    return ForeignKey(target, ondelete="CASCADE")


movies = Table(
    "movies",
    metadata,
    Column("movie_id", Integer, primary_key=True, autoincrement=False),
    Column("title", String(512), nullable=False),
    Column("year", SmallInteger, nullable=True),
    Column("overview", Text, nullable=True),
    Column("poster_path", String(255), nullable=True),
    Column("added_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    Index("ix_movies_title", "title"),
    Index("ix_movies_year", "year"),
    **MYSQL_TABLE_ARGS,
)

movie_imdb_tmdb = Table(
    "movie_imdb_tmdb",
    metadata,
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column("imdb_id", String(16), nullable=True),
    Column("tmdb_id", Integer, nullable=True),
    Index("ix_movie_imdb_tmdb_tmdb_id", "tmdb_id"),
    **MYSQL_TABLE_ARGS,
)

genres = Table(
    "genres",
    metadata,
    Column("genre_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    UniqueConstraint("name"),
    **MYSQL_TABLE_ARGS,
)

movie_genres = Table(
    "movie_genres",
    metadata,
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column("genre_id", Integer, _fk("genres.genre_id"), primary_key=True, autoincrement=False),
    Index("ix_movie_genres_genre_id", "genre_id"),
    **MYSQL_TABLE_ARGS,
)

users = Table(
    "users",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=True),
    Column(
        "username_key",
        CANONICAL_NAME,
        nullable=True,
        doc="usernames.canonical(username): uniqueness and sign-in, compared bytewise",
    ),
    Column("email", String(255), nullable=True),
    Column("password_hash", String(255), nullable=True),
    Column("source", String(16), nullable=False, server_default="app"),
    Column("created_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    UniqueConstraint("username"),
    UniqueConstraint("username_key"),
    UniqueConstraint("email"),
    sqlite_autoincrement=True,
    **MYSQL_TABLE_ARGS,
)

rating_explicit = Table(
    "rating_explicit",
    metadata,
    Column("user_id", Integer, _fk("users.user_id"), primary_key=True, autoincrement=False),
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column("rating", Float, nullable=False),
    Column("rated_at", BigInteger, nullable=False, doc="Unix epoch seconds"),
    Index("ix_rating_explicit_user_id_rated_at", "user_id", "rated_at"),
    Index("ix_rating_explicit_movie_id", "movie_id"),
    **MYSQL_TABLE_ARGS,
)

rating_implicit = Table(
    "rating_implicit",
    metadata,
    Column("user_id", Integer, _fk("users.user_id"), primary_key=True, autoincrement=False),
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column(
        "event",
        String(16),
        primary_key=True,
        doc="rating | view | click | list | unlist (removed from the list)",
    ),
    Column("event_count", Integer, nullable=False, server_default="1"),
    Column("last_at", BigInteger, nullable=False, doc="Unix epoch seconds"),
    Index("ix_rating_implicit_user_id_last_at", "user_id", "last_at"),
    Index("ix_rating_implicit_movie_id", "movie_id"),
    **MYSQL_TABLE_ARGS,
)

tags = Table(
    "tags",
    metadata,
    Column("user_id", Integer, _fk("users.user_id"), primary_key=True, autoincrement=False),
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column("tag", String(255), primary_key=True),
    Column("tagged_at", BigInteger, nullable=False),
    Index("ix_tags_movie_id", "movie_id"),
    **MYSQL_TABLE_ARGS,
)

user_movielist = Table(
    "user_movielist",
    metadata,
    Column("user_id", Integer, _fk("users.user_id"), primary_key=True, autoincrement=False),
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column("added_at", BigInteger, nullable=False),
    Index("ix_user_movielist_user_id_added_at", "user_id", "added_at"),
    **MYSQL_TABLE_ARGS,
)

user_not_interested = Table(
    "user_not_interested",
    metadata,
    Column("user_id", Integer, _fk("users.user_id"), primary_key=True, autoincrement=False),
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column("added_at", BigInteger, nullable=False),
    **MYSQL_TABLE_ARGS,
)

genome_tags = Table(
    "genome_tags",
    metadata,
    Column("tag_id", Integer, primary_key=True, autoincrement=False),
    Column("tag", String(255), nullable=False),
    **MYSQL_TABLE_ARGS,
)

genome_scores = Table(
    "genome_scores",
    metadata,
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column("tag_id", Integer, _fk("genome_tags.tag_id"), primary_key=True, autoincrement=False),
    Column("relevance", Float, nullable=False),
    **MYSQL_TABLE_ARGS,
)

ml_youtube = Table(
    "ml_youtube",
    metadata,
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column("youtube_id", String(16), nullable=False),
    Column("title", String(512), nullable=True),
    **MYSQL_TABLE_ARGS,
)

daily_update = Table(
    "daily_update",
    metadata,
    Column("day", Date, primary_key=True),
    Column("kind", String(16), primary_key=True, doc="new | trending"),
    Column("movie_id", Integer, _fk("movies.movie_id"), primary_key=True, autoincrement=False),
    Column("rank", Integer, nullable=False),
    Column("score", Float, nullable=False),
    **MYSQL_TABLE_ARGS,
)

models_type = Table(
    "models_type",
    metadata,
    Column("model_type", String(32), primary_key=True),
    Column("feedback", String(16), nullable=False, doc="implicit | explicit"),
    Column("description", String(255), nullable=False),
    **MYSQL_TABLE_ARGS,
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_type", String(32), _fk("models_type.model_type"), nullable=False),
    Column("version", String(64), nullable=False),
    Column("artifact_uri", String(1024), nullable=False),
    Column("metrics", JSON, nullable=True),
    Column("status", String(16), nullable=False, doc="current | retired | rejected"),
    Column("created_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    Column("reason", String(512), nullable=True, doc="why the promotion gate decided so"),
    UniqueConstraint("model_type", "version"),
    Index("ix_model_versions_model_type_status", "model_type", "status"),
    **MYSQL_TABLE_ARGS,
)

user_recommendations = Table(
    "user_recommendations",
    metadata,
    Column("user_id", Integer, _fk("users.user_id"), primary_key=True, autoincrement=False),
    Column("model_type", String(32), _fk("models_type.model_type"), primary_key=True),
    Column("rank", SmallInteger, primary_key=True, autoincrement=False),
    Column("movie_id", Integer, _fk("movies.movie_id"), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("reason", String(512), nullable=True),
    Column("created_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    **MYSQL_TABLE_ARGS,
)

dataset_loads = Table(
    "dataset_loads",
    metadata,
    Column("dataset", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False, doc="sha256 of the parsed rows"),
    Column("counts", JSON, nullable=False),
    Column("loaded_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    **MYSQL_TABLE_ARGS,
)


def _genres_of(dialect: str) -> str:
    """Correlated subquery: a movie's genre names joined by '|', sorted."""
    if dialect in ("mysql", "mariadb"):
        concat = "GROUP_CONCAT(g.name ORDER BY g.name SEPARATOR '|')"
        source = "movie_genres mg JOIN genres g ON g.genre_id = mg.genre_id"
    else:  # SQLite: group_concat keeps the order of an ordered subquery
        concat = "group_concat(name, '|')"
        source = (
            "(SELECT g.name FROM movie_genres mg JOIN genres g ON g.genre_id = mg.genre_id "
            "WHERE mg.movie_id = m.movie_id ORDER BY g.name) g"
        )
        return f"(SELECT {concat} FROM {source})"  # noqa: S608 - constant SQL fragments
    return f"(SELECT {concat} FROM {source} WHERE mg.movie_id = m.movie_id)"  # noqa: S608


_VIEW_SELECTS = {
    "content_based_view": (
        "SELECT l.user_id, l.movie_id, m.title, {genres} AS genres, l.added_at "
        "FROM user_movielist l JOIN movies m ON m.movie_id = l.movie_id"
    ),
    "train_content_data": (
        "SELECT m.movie_id, m.title, m.year, {genres} AS genres, m.overview, "
        "x.imdb_id, x.tmdb_id, y.youtube_id "
        "FROM movies m LEFT JOIN movie_imdb_tmdb x ON x.movie_id = m.movie_id "
        "LEFT JOIN ml_youtube y ON y.movie_id = m.movie_id"
    ),
}


def view_sql(name: str, dialect: str) -> str:
    """CREATE VIEW statement for ``name`` in ``dialect`` ('mysql', 'mariadb' or 'sqlite')."""
    select = _VIEW_SELECTS[name].format(genres=_genres_of(dialect))
    return f"CREATE VIEW {name} AS {select}"


VIEWS = tuple(_VIEW_SELECTS)

#: Model types known to the registry (seeded by the first migration).
MODEL_TYPES: tuple[tuple[str, str, str], ...] = (
    ("popularity", "implicit", "Time-decayed popularity (fallback)"),
    ("content", "implicit", "TF-IDF content similarity over genres, tags, genome, overview"),
    ("mf_explicit", "explicit", "Biased matrix factorization for rating prediction"),
    ("mf_implicit", "implicit", "Implicit ALS matrix factorization"),
    ("item2item", "implicit", "Item-to-item co-occurrence neighbours"),
    ("ncf_implicit", "implicit", "NeuMF with negative sampling (BCE)"),
    ("ncf_explicit", "explicit", "NeuMF rating regression"),
    ("blend", "implicit", "Two-stage: candidates then NeuMF ranking"),
)
