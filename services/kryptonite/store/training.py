"""Read what the models learn from out of the database, in chunks, with clear failures.

Every frame is read with a server-side cursor (``stream_results``) ``chunk_rows`` rows at a
time into compact dtypes, so peak memory is the final arrays plus one chunk. App users'
activity is included: their ratings (``rating_explicit``), personal lists
(``user_movielist``) and implicit events (``rating_implicit`` rows other than ``rating``
and ``list``, which the two tables above already hold).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, func, inspect, select
from sqlalchemy.engine import Connection

from kryptonite.store import tables as t

log = logging.getLogger("kryptonite.store.training")

INGEST_HINT = "run `kryptonite migrate` then `kryptonite ingest --dataset ml-latest-small`"


class TrainingDataError(RuntimeError):
    """The database cannot be trained from; the message says what to run."""


@dataclass
class TrainingFrames:
    """Frames in the shapes ``datasets.movielens.MovieLensFrames`` uses."""

    ratings: pd.DataFrame  # user_id, movie_id, rating (float32), timestamp (int64)
    events: pd.DataFrame  # user_id, movie_id, timestamp: implicit positives (views, clicks)
    user_lists: dict[int, list[int]]
    movies: pd.DataFrame  # movie_id, title, year, genres (list[str])
    tags: pd.DataFrame  # user_id, movie_id, tag, timestamp
    genome_tags: pd.DataFrame  # tag_id, tag
    genome_scores: pd.DataFrame  # movie_id, tag_id, relevance (float32)
    overviews: pd.DataFrame  # movie_id, overview


def _chunks(conn: Connection, query: Select, chunk_rows: int) -> Iterator[list]:
    result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
    yield from result.partitions(chunk_rows)


def read_frame(
    conn: Connection, query: Select, dtypes: dict[str, object], chunk_rows: int
) -> pd.DataFrame:
    """``query`` -> a frame with ``dtypes`` (one column per key, in order), chunk by chunk."""
    names = list(dtypes)
    parts = [
        pd.DataFrame.from_records(rows, columns=names).astype(dtypes)
        for rows in _chunks(conn, query, chunk_rows)
    ]
    if not parts:
        return pd.DataFrame({n: pd.Series(dtype=d) for n, d in dtypes.items()})
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return frame


def check_trainable(conn: Connection) -> None:
    """Raise :class:`TrainingDataError` unless ratings exist, reference known movies and
    the last ingest finished."""
    if not inspect(conn).has_table(t.rating_explicit.name):
        raise TrainingDataError(f"the database has no Kryptonite schema: {INGEST_HINT}")
    n_ratings = conn.execute(select(func.count()).select_from(t.rating_explicit)).scalar_one()
    loads = conn.execute(select(t.dataset_loads.c.dataset, t.dataset_loads.c.counts)).all()
    ml_users = conn.execute(
        select(func.count()).select_from(t.users).where(t.users.c.source == "movielens")
    ).scalar_one()
    if ml_users and not loads:
        raise TrainingDataError(
            "an earlier ingest did not finish (MovieLens users but no completed load in "
            "dataset_loads): run `kryptonite ingest --dataset NAME --force` again"
        )
    for dataset, counts in loads:
        expected = int((counts or {}).get("rating_explicit", 0))
        if n_ratings < expected:
            raise TrainingDataError(
                f"the database holds {n_ratings} ratings but ingest of {dataset} recorded "
                f"{expected}: the data is incomplete; run `kryptonite ingest --dataset "
                f"{dataset} --force`"
            )
    if n_ratings == 0:
        raise TrainingDataError(f"the database holds no ratings: {INGEST_HINT}")
    orphans = conn.execute(
        select(func.count())
        .select_from(
            t.rating_explicit.outerjoin(
                t.movies, t.movies.c.movie_id == t.rating_explicit.c.movie_id
            )
        )
        .where(t.movies.c.movie_id.is_(None))
    ).scalar_one()
    if orphans:
        raise TrainingDataError(
            f"{orphans} ratings refer to movies that are not in the movies table: the "
            "ingest is broken; run `kryptonite ingest --dataset NAME --force`"
        )


def _movies(conn: Connection, chunk_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    m = t.movies.c
    movies = read_frame(
        conn,
        select(m.movie_id, m.title, m.year, m.overview).order_by(m.movie_id),
        {"movie_id": "int64", "title": "object", "year": "Int64", "overview": "object"},
        chunk_rows,
    )
    pairs = read_frame(
        conn,
        select(t.movie_genres.c.movie_id, t.genres.c.name)
        .join(t.genres, t.genres.c.genre_id == t.movie_genres.c.genre_id)
        .order_by(t.movie_genres.c.movie_id, t.genres.c.name),
        {"movie_id": "int64", "name": "object"},
        chunk_rows,
    )
    genres = pairs.groupby("movie_id")["name"].agg(list)
    movies["genres"] = [
        list(g) if isinstance(g, list) else [] for g in movies["movie_id"].map(genres)
    ]
    overviews = movies.loc[movies["overview"].notna(), ["movie_id", "overview"]]
    movies = movies[["movie_id", "title", "year", "genres"]]
    return movies, overviews.reset_index(drop=True)


def read_training_frames(engine: Engine, *, chunk_rows: int = 200_000) -> TrainingFrames:
    """Everything a training run needs, after :func:`check_trainable`."""
    with engine.connect() as conn:
        check_trainable(conn)
        r = t.rating_explicit.c
        ratings = read_frame(
            conn,
            select(r.user_id, r.movie_id, r.rating, r.rated_at),
            {"user_id": "int64", "movie_id": "int64", "rating": "float32", "timestamp": "int64"},
            chunk_rows,
        )
        i = t.rating_implicit.c
        events = read_frame(
            conn,
            select(i.user_id, i.movie_id, func.max(i.last_at))
            .where(i.event.not_in(("rating", "list")))
            .group_by(i.user_id, i.movie_id),
            {"user_id": "int64", "movie_id": "int64", "timestamp": "int64"},
            chunk_rows,
        )
        li = t.user_movielist.c
        lists = read_frame(
            conn,
            select(li.user_id, li.movie_id).order_by(li.user_id, li.added_at, li.movie_id),
            {"user_id": "int64", "movie_id": "int64"},
            chunk_rows,
        )
        movies, overviews = _movies(conn, chunk_rows)
        g = t.tags.c
        tags = read_frame(
            conn,
            select(g.user_id, g.movie_id, g.tag, g.tagged_at),
            {"user_id": "int64", "movie_id": "int64", "tag": "object", "timestamp": "int64"},
            chunk_rows,
        )
        genome_tags = read_frame(
            conn,
            select(t.genome_tags.c.tag_id, t.genome_tags.c.tag),
            {"tag_id": "int64", "tag": "object"},
            chunk_rows,
        )
        s = t.genome_scores.c
        genome_scores = read_frame(
            conn,
            select(s.movie_id, s.tag_id, s.relevance),
            {"movie_id": "int64", "tag_id": "int64", "relevance": "float32"},
            chunk_rows,
        )
    user_lists = {
        int(u): grp.tolist() for u, grp in lists.groupby("user_id", sort=True)["movie_id"]
    }
    # an event on a movie the user rated or listed adds nothing: keep only new positives
    if len(events):
        seen = pd.concat([ratings[["user_id", "movie_id"]], lists], ignore_index=True)
        key = events["user_id"] * (1 << 32) + events["movie_id"]
        known = np.isin(key.to_numpy(), (seen["user_id"] * (1 << 32) + seen["movie_id"]).to_numpy())
        events = events.loc[~known].reset_index(drop=True)
    log.info(
        "read from the database: %d ratings, %d events, %d list entries, %d movies",
        len(ratings),
        len(events),
        len(lists),
        len(movies),
    )
    return TrainingFrames(
        ratings=ratings,
        events=events,
        user_lists=user_lists,
        movies=movies,
        tags=tags,
        genome_tags=genome_tags,
        genome_scores=genome_scores,
        overviews=overviews,
    )
