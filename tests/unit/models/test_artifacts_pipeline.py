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
