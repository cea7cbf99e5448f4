"""Load parsed MovieLens frames into the store in one transaction.

Idempotent: rows are upserted by primary key, and a data set whose fingerprint matches
the last load is skipped. All-or-nothing: every table is written inside one transaction,
so a failure midway leaves the previous data as it was.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select

from kryptonite.config import Settings
from kryptonite.datasets.movielens import MovieLensFrames, ParseReport, load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.store import tables as t
from kryptonite.store.bulk import upsert_frame
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.migrate import upgrade

log = logging.getLogger(__name__)


class DatasetConflictError(RuntimeError):
    """The database already holds a different MovieLens release."""


@dataclass
class IngestResult:
    """What one ingest did: rows written per table, seconds, and whether it was a no-op."""

    dataset: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    unchanged: bool = False


def fingerprint(frames: MovieLensFrames) -> str:
    """A stable hash of every parsed row (order-insensitive within a frame)."""
    digest = hashlib.sha256()
    for name in (
        "movies",
        "ratings",
        "tags",
        "links",
        "genome_tags",
        "genome_scores",
        "youtube",
        "overviews",
    ):
        frame = getattr(frames, name)
        if name == "movies":
            frame = frame.assign(genres=frame["genres"].map("|".join))
        hashed = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
        digest.update(name.encode())
        digest.update(hashed.tobytes())
    return digest.hexdigest()


def table_rows(frames: MovieLensFrames) -> dict[str, pd.DataFrame]:
    """The frames reshaped into rows of each table, in foreign-key order."""
    movies = frames.movies.merge(frames.overviews, on="movie_id", how="left")
    genre_names = sorted({g for gs in frames.movies["genres"] for g in gs})
    movie_genres = frames.movies[["movie_id", "genres"]].explode("genres").dropna()
    user_ids = frames.user_ids
    ratings = frames.ratings.rename(columns={"timestamp": "rated_at"})
    return {
        "movies": movies[["movie_id", "title", "year", "overview"]],
        "genres": pd.DataFrame({"name": genre_names}),
        "movie_genres": movie_genres.rename(columns={"genres": "name"}),
        "movie_imdb_tmdb": frames.links[["movie_id", "imdb_id", "tmdb_id"]],
        "users": pd.DataFrame({"user_id": user_ids, "source": "movielens"}),
        "rating_explicit": ratings[["user_id", "movie_id", "rating", "rated_at"]],
        "rating_implicit": ratings[["user_id", "movie_id", "rated_at"]]
        .rename(columns={"rated_at": "last_at"})
        .assign(event="rating", event_count=1),
        "tags": frames.tags.rename(columns={"timestamp": "tagged_at"}),
        "genome_tags": frames.genome_tags[["tag_id", "tag"]],
        "genome_scores": frames.genome_scores[["movie_id", "tag_id", "relevance"]],
        "ml_youtube": frames.youtube[["movie_id", "youtube_id", "title"]],
    }


#: Columns refreshed when a row already exists (others keep their stored value).
_UPDATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "movies": (("title", "year"), ("overview",)),
    "genres": ((), ()),
    "movie_genres": ((), ()),
    "movie_imdb_tmdb": (("imdb_id", "tmdb_id"), ()),
    "users": ((), ()),
    "rating_explicit": (("rating", "rated_at"), ()),
    "rating_implicit": (("last_at",), ()),
    "tags": (("tagged_at",), ()),
    "genome_tags": (("tag",), ()),
    "genome_scores": (("relevance",), ()),
    "ml_youtube": (("youtube_id", "title"), ()),
}


def _genre_ids(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(t.genres.c.name, t.genres.c.genre_id)).all())


def _check_release(conn: Connection, dataset: str, force: bool) -> None:
    loaded = conn.execute(select(t.dataset_loads.c.dataset)).scalars().all()
    others = [name for name in loaded if name != dataset]
    if others and not force:
        raise DatasetConflictError(
            f"the database already holds {', '.join(others)}; MovieLens releases do not share "
            "id spaces — use a separate database (or --force to merge anyway)"
        )


def ingest(
    engine: Engine, frames: MovieLensFrames, dataset: str, *, force: bool = False
) -> IngestResult:
    """Write ``frames`` as data set ``dataset``; skip when identical to the last load."""
    started = time.perf_counter()
    result = IngestResult(dataset)
    digest = fingerprint(frames)
    with engine.begin() as conn:
        _check_release(conn, dataset, force)
        previous = conn.execute(
            select(t.dataset_loads.c.fingerprint).where(t.dataset_loads.c.dataset == dataset)
        ).scalar()
        if previous == digest and not force:
            result.unchanged = True
            result.seconds = time.perf_counter() - started
            return result
        for name, rows in table_rows(frames).items():
            if name == "movie_genres":
                rows = pd.DataFrame(
                    {"movie_id": rows["movie_id"], "genre_id": rows["name"].map(_genre_ids(conn))}
                )
            update, keep = _UPDATES[name]
            upsert_frame(conn, t.metadata.tables[name], rows, update=update, keep_existing=keep)
            result.counts[name] = len(rows)
            log.info("ingest %s: %s %d rows", dataset, name, len(rows))
        conn.execute(delete(t.dataset_loads).where(t.dataset_loads.c.dataset == dataset))
        conn.execute(
            insert(t.dataset_loads).values(
                dataset=dataset, fingerprint=digest, counts=result.counts
            )
        )
    result.seconds = time.perf_counter() - started
    return result


def table_counts(engine: Engine) -> dict[str, int]:
    """Row count of every table (for reports and tests)."""
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in t.metadata.tables.items()
        }


def ingest_dataset(
    settings: Settings, dataset: str, *, strict: bool = False, force: bool = False
) -> tuple[IngestResult, ParseReport]:
    """Find (or download) ``dataset``, parse it, migrate the store and load it."""
    from kryptonite.datasets.download import ensure_dataset

    spec = get_spec(dataset)
    folder = ensure_dataset(spec, settings)
    frames = load_dataset(spec, folder, extras_dir=settings.data_dir, strict=strict)
    engine = create_sync_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        return ingest(engine, frames, dataset, force=force), frames.report
    finally:
        engine.dispose()
