"""Local artifact store and the train/evaluate jobs on tiny data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kryptonite.models.data import TrainData
from kryptonite.models.item2item import ItemKNN
from kryptonite.models.mf import ExplicitMF
from kryptonite.models.popularity import Popularity
from kryptonite.pipeline.evaluate import evaluate
from kryptonite.pipeline.train import train_all
from kryptonite.store.artifacts import (
    ArtifactError,
    LocalArtifactStore,
    load_artifact,
    open_store,
)


def test_publish_latest_load_and_immutability(tiny: TrainData, tmp_path) -> None:
    store = open_store(str(tmp_path / "art"))
    assert isinstance(store, LocalArtifactStore)
    seen = []
    model = ItemKNN(neighbours=5).fit(tiny)
    m1 = store.publish(
        model,
        metrics={"ndcg@10": 0.1},
        data_fingerprint=tiny.fingerprint(),
        version="20260101T000000Z-a",
        on_published=seen.append,
    )
    m2 = store.publish(model, version="20260102T000000Z-b")
    assert [m.version for m in seen] == [m1.version]
    assert store.versions("item2item") == [m1.version, m2.version]
    assert store.latest("item2item") == m2.version
    manifest = json.loads((tmp_path / "art/item2item" / m1.version / "manifest.json").read_text())
    assert manifest["metrics"] == {"ndcg@10": 0.1} and manifest["params"]["neighbours"] == 5
    assert manifest["data_fingerprint"] == tiny.fingerprint()
    with pytest.raises(ArtifactError):
        store.publish(model, version=m1.version)
    loaded, man = store.load("item2item", cache_dir=tmp_path / "cache")
    assert man.version == m2.version
    assert loaded.recommend(1, [2, 4], 3) == model.recommend(1, [2, 4], 3)
    with pytest.raises(ArtifactError):
        store.load("ncf")
    again, _ = load_artifact(m1.uri, cache_dir=tmp_path / "cache2")
    assert again.params == model.params


def test_incomplete_version_is_ignored(tiny: TrainData, tmp_path) -> None:
    store = LocalArtifactStore(tmp_path)
    (tmp_path / "popularity" / "20990101T000000Z-x").mkdir(parents=True)  # no manifest
    m = store.publish(Popularity().fit(tiny))
    assert store.latest("popularity") == m.version


def test_train_all_publishes_every_model(tiny: TrainData, tmp_path) -> None:
    published = []
    trained = train_all(
        tiny,
        LocalArtifactStore(tmp_path),
        models={"popularity": Popularity, "mf_explicit": lambda: ExplicitMF(factors=2)},
        on_published=published.append,
        progress=False,
    )
    assert [t.name for t in trained] == ["popularity", "mf_explicit"]
    assert {m.model_type for m in published} == {"popularity", "mf_explicit"}
    assert all(m.metrics["fit_seconds"] >= 0 for m in published)


def test_evaluate_writes_report_shape(tiny: TrainData, tmp_path) -> None:
    grids = {
        "popularity": [Popularity],
        "item2item": [lambda: ItemKNN(neighbours=5), lambda: ItemKNN(neighbours=20)],
    }
    result = evaluate(tiny, dataset="tiny", out=tmp_path, grids=grids, progress=False)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["dataset"] == "tiny" and "leave-last-out" in on_disk["protocol"]
    keys = {"hr@10", "ndcg@10", "recall@20", "mrr@10", "coverage@10", "fit_seconds"}
    assert keys <= set(on_disk["models"]["item2item"])
    assert {"rmse", "mae"} <= set(on_disk["models"]["mf_explicit"])
    assert on_disk["models"]["item2item"]["ndcg@10"] > on_disk["models"]["popularity"]["ndcg@10"]
    assert (tmp_path / "metrics.md").read_text().startswith("# tiny")
    assert (tmp_path / "ndcg_at_10.png").stat().st_size > 1000
    assert np.isfinite(result["models"]["bias_baseline"]["rmse"])


def test_register_adds_train_and_evaluate() -> None:
    import typer
    from typer.testing import CliRunner

    from kryptonite.pipeline.commands import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    help_text = runner.invoke(app, ["evaluate", "--help"]).output
    assert "--out" in help_text and "--personas" in help_text
    assert "--data-dir" in runner.invoke(app, ["train", "--help"]).output


def test_train_all_reuses_a_model_only_when_data_code_and_params_match(
    tiny: TrainData, tmp_path
) -> None:
    store = LocalArtifactStore(tmp_path)
    models = {"popularity": Popularity, "item2item": lambda: ItemKNN(neighbours=5)}
    first = train_all(tiny, store, models=models, progress=False, reuse=True)
    assert [t.reused for t in first] == [False, False]
    assert first[0].manifest is not None and first[0].manifest.code_fingerprint

    again = train_all(tiny, store, models=models, progress=False, reuse=True)
    assert [t.reused for t in again] == [True, True]
    assert [t.manifest.version for t in again] == [t.manifest.version for t in first]
    assert store.versions("item2item") == [first[1].manifest.version]

    changed = {**models, "item2item": lambda: ItemKNN(neighbours=6)}
    retrained = train_all(tiny, store, models=changed, progress=False, reuse=True)
    assert [t.reused for t in retrained] == [True, False]

    fewer = TrainData(ratings=tiny.ratings.iloc[1:], movies=tiny.movies)
    moved = train_all(fewer, store, models=models, progress=False, reuse=True)
    assert not any(t.reused for t in moved)
    forced = train_all(fewer, store, models=models, progress=False, reuse=False)
    assert not any(t.reused for t in forced)


def test_reuse_needs_the_same_model_code(tiny: TrainData, tmp_path) -> None:
    from kryptonite.pipeline.reuse import code_fingerprint, find_reusable

    store = LocalArtifactStore(tmp_path)
    model = Popularity().fit(tiny)
    store.publish(model, data_fingerprint=tiny.fingerprint(), code_fingerprint="older-code")
    assert find_reusable(store, Popularity(), tiny.fingerprint()) is None
    store.publish(model, data_fingerprint=tiny.fingerprint(), code_fingerprint=code_fingerprint())
    assert find_reusable(store, Popularity(), tiny.fingerprint()) is not None


def test_fingerprint_covers_side_frames(tiny: TrainData) -> None:
    other_movies = tiny.movies.copy()
    other_movies.loc[other_movies.index[0], "title"] = "Renamed (1999)"
    changed = TrainData(ratings=tiny.ratings, movies=other_movies)
    same = TrainData(ratings=tiny.ratings, movies=tiny.movies.iloc[::-1])
    base = TrainData(ratings=tiny.ratings, movies=tiny.movies).fingerprint()
    assert changed.fingerprint() != base and same.fingerprint() == base


def test_prune_keeps_the_newest_and_the_protected(tiny: TrainData, tmp_path) -> None:
    store = LocalArtifactStore(tmp_path)
    model = Popularity().fit(tiny)
    versions = [store.publish(model, version=f"2026010{d}T000000Z-a").version for d in range(1, 6)]
    assert store.prune("popularity", 2, protect={versions[0]}) == versions[1:3]
    assert store.versions("popularity") == [versions[0], *versions[3:]]
    assert not [p for p in (tmp_path / "popularity").iterdir() if p.name.startswith(".")]
    assert store.prune("popularity", 1) == [versions[0], versions[3]]
    assert store.versions("popularity") == [versions[4]]
    assert store.prune("popularity", 1) == [] and store.prune("ncf", 1) == []


def test_prune_versions_protects_the_current_row(tiny: TrainData, tmp_path) -> None:
    from sqlalchemy import insert

    from kryptonite.config import Settings
    from kryptonite.pipeline.reuse import prune_versions
    from kryptonite.store.engine import create_sync_engine
    from kryptonite.store.migrate import upgrade
    from kryptonite.store.tables import model_versions

    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'k.sqlite'}")
    engine = create_sync_engine(settings.resolved_database_url)
    upgrade(engine)
    store = LocalArtifactStore(tmp_path / "art")
    model = Popularity().fit(tiny)
    versions = [store.publish(model, version=f"2026010{d}T000000Z-a").version for d in range(1, 5)]
    with engine.begin() as conn:
        conn.execute(
            insert(model_versions).values(
                model_type="popularity", version=versions[0], artifact_uri="x", status="current"
            )
        )
    engine.dispose()
    assert prune_versions(store, ["popularity"], 2, settings) == {"popularity": versions[1:2]}
    assert store.versions("popularity") == [versions[0], *versions[2:]]
