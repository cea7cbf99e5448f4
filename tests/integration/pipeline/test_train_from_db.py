"""`kryptonite train` from the database (MariaDB and SQLite): what it reads, how it fails,
and the promotion gate deciding which published version becomes current."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, delete, insert, select

from kryptonite.datasets.ingest import ingest
from kryptonite.datasets.movielens import MovieLensFrames, load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.datasets.synth import generate
from kryptonite.models.data import TrainData
from kryptonite.models.popularity import Popularity
from kryptonite.pipeline.commands import load_db_train_data
from kryptonite.pipeline.promotion import Gate, holdout
from kryptonite.pipeline.train import train_all
from kryptonite.serving.model_holder import Loaded, ModelHolder
from kryptonite.store import tables as t
from kryptonite.store.artifacts import LocalArtifactStore
from kryptonite.store.versions import VersionRecorder, current_rows, tag

ROOT = Path(__file__).resolve().parents[3]
APP_USER = t.APP_USER_ID_START + 5


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> MovieLensFrames:
    out = tmp_path_factory.mktemp("synth") / "synth-train"
    generate(out, users=120, movies=150, ratings=4000, seed=3, progress=False)
    return load_dataset(get_spec("synth-train"), out)


def _add_app_user(engine: Engine, movies: list[int]) -> None:
    """What the gateway writes for a new account: a rating, a list entry, a view."""
    with engine.begin() as conn:
        conn.execute(insert(t.users).values(user_id=APP_USER, username="newcomer"))
        conn.execute(
            insert(t.rating_explicit).values(
                user_id=APP_USER, movie_id=movies[0], rating=5.0, rated_at=2_000_000_000
            )
        )
        conn.execute(
            insert(t.user_movielist).values(
                user_id=APP_USER, movie_id=movies[1], added_at=2_000_000_001
            )
        )
        for movie, event in ((movies[0], "rating"), (movies[1], "list"), (movies[2], "view")):
            conn.execute(
                insert(t.rating_implicit).values(
                    user_id=APP_USER, movie_id=movie, event=event, last_at=2_000_000_002
                )
            )


def test_train_data_is_everything_in_the_database(
    migrated_engine: Engine, synth: MovieLensFrames
) -> None:
    ingest(migrated_engine, synth, "synth-train")
    movies = synth.movies["movie_id"].tolist()
    _add_app_user(migrated_engine, movies[:3])

    data = load_db_train_data(migrated_engine, chunk_rows=1000)  # several chunks per table

    assert len(data.ratings) == len(synth.ratings) + 1
    key = ["user_id", "movie_id"]
    got = data.ratings[data.ratings["user_id"] != APP_USER].sort_values(key)
    want = synth.ratings.sort_values(key)
    np.testing.assert_array_equal(got[key].to_numpy(), want[key].to_numpy())
    np.testing.assert_allclose(got["rating"].to_numpy(), want["rating"].to_numpy())
    assert data.user_lists == {APP_USER: [movies[1]]}
    assert data.events[["user_id", "movie_id"]].values.tolist() == [[APP_USER, movies[2]]]
    assert len(data.movies) == len(synth.movies)
    assert data.movies.set_index("movie_id")["genres"].to_dict() == {
        m: sorted(g) for m, g in synth.movies.set_index("movie_id")["genres"].items()
    }
    # the app user is a known user whose rating, list entry and view are all positives
    row = data.user_map.index([APP_USER])[0]
    seen = data.item_map.id_of(data.implicit_matrix()[row].indices)
    assert sorted(seen.tolist()) == sorted(movies[:3])


def _train_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kryptonite", "train"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "services"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _break(engine: Engine, how: str, synth: MovieLensFrames) -> None:
    if how == "empty":
        return
    ingest(engine, synth, "synth-train")
    if how == "half-ingest":  # an ingest that died before recording its load
        with engine.begin() as conn:
            conn.execute(delete(t.dataset_loads))
        return
    # ratings of movies the catalog lacks (constraints were off during some load)
    user = int(synth.ratings["user_id"].iloc[0])
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        sqlite = engine.dialect.name == "sqlite"
        cur.execute("PRAGMA foreign_keys=OFF" if sqlite else "SET FOREIGN_KEY_CHECKS=0")
        insert_sql = {
            True: "INSERT INTO rating_explicit VALUES (?, 99999999, 4.0, 1)",
            False: "INSERT INTO rating_explicit VALUES (%s, 99999999, 4.0, 1)",
        }[sqlite]
        cur.execute(insert_sql, (user,))
        raw.commit()
    finally:
        raw.close()


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("empty", "holds no ratings: run `kryptonite migrate` then `kryptonite ingest"),
        ("half-ingest", "earlier ingest did not finish"),
        ("unknown-movies", "1 ratings refer to movies that are not in the movies table"),
    ],
)
def test_bad_databases_stop_training_before_publishing(
    migrated_engine: Engine,
    db_url: str,
    synth: MovieLensFrames,
    tmp_path: Path,
    how: str,
    says: str,
) -> None:
    _break(migrated_engine, how, synth)
    artifacts = tmp_path / "artifacts"
    done = _train_cli(
        {
            "KRYPTONITE_HOME": str(tmp_path),
            "KRYPTONITE_DATABASE_URL": db_url,
            "KRYPTONITE_ARTIFACT_URI": str(artifacts),
            "KRYPTONITE_TRAIN_PROFILE": "small",
        }
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert not artifacts.exists() or not any(artifacts.iterdir())
    with migrated_engine.connect() as conn:
        assert conn.execute(select(t.model_versions.c.id)).first() is None


class ShuffledPopularity(Popularity):
    """Deliberately broken: credits each movie's ratings to a random other movie."""

    def _fit(self, data: TrainData) -> None:
        ids = np.unique(data.ratings["movie_id"].to_numpy())
        swap = dict(zip(ids, np.random.default_rng(0).permutation(ids), strict=True))
        ratings = data.ratings.assign(movie_id=data.ratings["movie_id"].map(swap))
        super()._fit(TrainData(ratings=ratings, users=data.users, items=data.items))


def test_gate_rejects_a_broken_model_and_keeps_serving_the_current_one(
    migrated_engine: Engine, synth: MovieLensFrames, tmp_path: Path
) -> None:
    ingest(migrated_engine, synth, "synth-train")
    data = load_db_train_data(migrated_engine, chunk_rows=1000)
    store = LocalArtifactStore(tmp_path / "artifacts")
    recorder = VersionRecorder(store, migrated_engine)
    slice_ = holdout(data, users=200, seed=1)
    gate = Gate("ndcg@10", tolerance=0.1)

    def run(factory) -> str:
        (trained,) = train_all(
            data,
            store,
            models={"popularity": factory},
            on_published=recorder,
            gate=gate,
            slice_=slice_,
            progress=False,
        )
        assert trained.manifest is not None
        return trained.manifest.version

    good = run(lambda: Popularity(half_life_days=0.0))
    assert store.current("popularity") == good
    broken = run(ShuffledPopularity)
    assert store.latest("popularity") == broken  # kept ...
    assert store.current("popularity") == good  # ... but not served
    holder = ModelHolder(store, ["popularity"], lambda models: models)
    assert asyncio.run(holder.refresh()) and holder.get().versions == {"popularity": good}
    again = run(lambda: Popularity(half_life_days=0.0))

    mv = t.model_versions.c
    with migrated_engine.connect() as conn:
        rows = {
            r.version: r for r in conn.execute(select(mv.version, mv.status, mv.reason, mv.metrics))
        }
        assert (
            conn.execute(
                select(t.models_type.c.feedback).where(t.models_type.c.model_type == "popularity")
            ).scalar_one()
            == "implicit"
        )
        current = current_rows(conn)
    assert rows[good].status == "retired"
    assert rows[again].status == "current"
    assert rows[broken].status == "rejected"
    assert rows[broken].reason.startswith("rejected: ndcg@10 ")
    assert f"vs current {good}" in rows[broken].reason
    metrics = rows[broken].metrics
    assert metrics["validation"]["ndcg@10"] < metrics["promotion"]["baseline"]["ndcg@10"] * 0.9
    assert current == {"popularity": again} and store.current("popularity") == again
    # one tag format: what the services report is what the gateway keys its cache by
    assert Loaded(bundle=None, versions=current).version == tag(current) == f"popularity@{again}"
