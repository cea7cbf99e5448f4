"""Ingesting MovieLens into real MariaDB and SQLite: counts, idempotence, atomicity."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from kryptonite.datasets.ingest import DatasetConflictError, ingest, table_counts
from kryptonite.datasets.movielens import MovieLensFrames, load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.store.bulk import BulkLoadError
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.migrate import upgrade


@pytest.fixture(scope="module")
def small(data_dir: Path) -> MovieLensFrames:
    return load_dataset(
        get_spec("ml-latest-small"), data_dir / "ml-latest-small", extras_dir=data_dir
    )


def _checksum(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(conn.execute(text(sql)).one())
            for sql in (
                "SELECT SUM(user_id * 7 + movie_id), SUM(rating * 2), SUM(rated_at) "
                "FROM rating_explicit",
                "SELECT SUM(movie_id), SUM(LENGTH(title)), SUM(LENGTH(overview)) FROM movies",
                "SELECT SUM(movie_id + genre_id) FROM movie_genres",
            )
        ]


def test_ml_latest_small_counts_views_and_idempotence(
    migrated_engine: Engine, small: MovieLensFrames
) -> None:
    first = ingest(migrated_engine, small, "ml-latest-small")
    assert not first.unchanged
    counts = table_counts(migrated_engine)
    assert counts["rating_explicit"] == 100_836
    assert counts["rating_implicit"] == 100_836
    assert counts["users"] == 610
    assert counts["movies"] == 9_742
    assert counts["tags"] == 3_683
    assert counts["movie_imdb_tmdb"] == 9_742
    assert counts["genome_tags"] == 1_128
    with migrated_engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM train_content_data")).scalar() == 9_742
        toy = conn.execute(
            text("SELECT genres, youtube_id, tmdb_id FROM train_content_data WHERE movie_id = 1")
        ).one()
        assert toy == ("Adventure|Animation|Children|Comedy|Fantasy", "K26_sDKnvMU", 862)
        conn.execute(text("INSERT INTO user_movielist VALUES (1, 1, 0), (1, 2, 0)"))
        conn.commit()
        rows = conn.execute(text("SELECT COUNT(*) FROM content_based_view")).scalar()
        assert rows == 2
    before = (table_counts(migrated_engine), _checksum(migrated_engine))

    assert ingest(migrated_engine, small, "ml-latest-small").unchanged
    forced = ingest(migrated_engine, small, "ml-latest-small", force=True)
    assert not forced.unchanged
    assert (table_counts(migrated_engine), _checksum(migrated_engine)) == before


def test_failure_midway_leaves_previous_data(
    migrated_engine: Engine, small: MovieLensFrames
) -> None:
    tiny = MovieLensFrames(
        movies=small.movies.head(50),
        ratings=small.ratings[small.ratings["movie_id"].isin(small.movies["movie_id"].head(50))],
        tags=small.tags.head(0),
        links=small.links.head(50),
        genome_tags=small.genome_tags.head(10),
        genome_scores=small.genome_scores.head(0),
        youtube=small.youtube.head(0),
        overviews=small.overviews.head(0),
        report=small.report,
    )
    ingest(migrated_engine, tiny, "ml-latest-small")
    before = (table_counts(migrated_engine), _checksum(migrated_engine))
    # A later data set whose genome scores point at tags that do not exist: the database
    # rejects them after movies and ratings were already written in the transaction.
    broken = MovieLensFrames(**{**tiny.__dict__, "ratings": small.ratings})
    broken.movies = small.movies
    broken.genome_scores = small.genome_scores.assign(tag_id=10_000)
    with pytest.raises((IntegrityError, BulkLoadError)):
        ingest(migrated_engine, broken, "ml-latest-small")
    assert (table_counts(migrated_engine), _checksum(migrated_engine)) == before


def test_a_different_release_is_refused(migrated_engine: Engine, small: MovieLensFrames) -> None:
    tiny = MovieLensFrames(**{**small.__dict__, "ratings": small.ratings.head(10)})
    ingest(migrated_engine, tiny, "ml-latest-small")
    with pytest.raises(DatasetConflictError, match="ml-latest-small"):
        ingest(migrated_engine, tiny, "ml-1m")


def test_cli_ingest_into_embedded_store(tmp_path: Path, data_dir: Path) -> None:
    import subprocess
    import sys

    env = {"KRYPTONITE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    cmd = [
        sys.executable,
        "-m",
        "kryptonite",
        "ingest",
        "--dataset",
        "ml-latest-small",
        "--data-dir",
        str(data_dir),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "rating_explicit 100,836" in out.stdout
    engine = create_sync_engine(f"sqlite:///{tmp_path / 'kryptonite.sqlite'}")
    upgrade(engine)  # already at head: a no-op
    assert table_counts(engine)["rating_explicit"] == 100_836
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert "unchanged" in again.stdout
    bad = subprocess.run(
        cmd[:-4] + ["--dataset", "ml-2b"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "unknown dataset 'ml-2b'" in bad.stderr
