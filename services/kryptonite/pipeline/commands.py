"""`kryptonite train` and `kryptonite evaluate`; the CLI calls ``register(app)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kryptonite.config import get_settings

if TYPE_CHECKING:  # the models (numpy, scipy) are not in the gateway image
    from kryptonite.models.data import TrainData


def load_train_data(dataset: str, data_dir: Path | None) -> TrainData:
    """MovieLens files (plus the genome/overview extras beside them) -> ``TrainData``."""
    from kryptonite.datasets.movielens import load_dataset
    from kryptonite.datasets.registry import get_spec
    from kryptonite.pipeline.train import train_data

    root = Path(data_dir or get_settings().data_dir)
    spec = get_spec(dataset)
    frames = load_dataset(spec, root / spec.dirname, extras_dir=root)
    return train_data(
        ratings=frames.ratings,
        movies=frames.movies,
        tags=frames.tags,
        genome_tags=frames.genome_tags,
        genome_scores=frames.genome_scores,
        overviews=frames.overviews,
    )


DatasetOpt = Annotated[
    str, typer.Option("--dataset", help="MovieLens release, e.g. ml-latest-small")
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Folder holding the data set (default: settings)")
]


RetrainOpt = Annotated[
    bool, typer.Option("--retrain", help="Train even when a published model is up to date.")
]


def train_command(
    dataset: DatasetOpt = "ml-latest-small",
    data_dir: DataDirOpt = None,
    retrain: RetrainOpt = False,
) -> list:
    """Train every model and publish each as a new artifact version (a model whose data,
    code and parameters are unchanged keeps its published version unless --retrain).
    Returns the ``pipeline.train.Trained`` of each model."""
    from kryptonite.pipeline.reuse import prune_versions
    from kryptonite.pipeline.train import train_all
    from kryptonite.progress import step
    from kryptonite.store.artifacts import store_from_settings

    settings = get_settings()
    store = store_from_settings(settings)
    with step("loading training data"):
        data = load_train_data(dataset, data_dir)
    trained = train_all(data, store, reuse=not retrain)
    for t in trained:
        uri = t.manifest.uri if t.manifest else "-"
        took = "  reused" if t.reused else f"{t.fit_seconds:7.1f}s"
        typer.echo(f"{t.name:12s} {took}  {uri}")
    types = [t.manifest.model_type for t in trained if t.manifest]
    for model_type, gone in prune_versions(
        store, types, settings.artifact_keep_versions, settings
    ).items():
        typer.echo(f"pruned {len(gone)} old {model_type} version(s)")
    return trained


def evaluate_command(
    out: Annotated[Path, typer.Option("--out", help="Report directory")],
    dataset: DatasetOpt = "ml-latest-small",
    data_dir: DataDirOpt = None,
    personas: Annotated[
        bool, typer.Option("--personas", help="Also write OUT/personas.md (taste coherence)")
    ] = False,
) -> None:
    """Offline evaluation of every model, baseline and the served blend (the deployed
    pipeline in-process); writes OUT/metrics.json, .md, PNGs."""
    from kryptonite.pipeline.evaluate import evaluate
    from kryptonite.serving.evaluation import served_factory

    settings = get_settings()
    data = load_train_data(dataset, data_dir)
    served = {"served": served_factory(settings, settings.seed)}
    result = evaluate(data, dataset=dataset, out=out, seed=settings.seed, rankers=served)
    typer.echo(json.dumps(result["models"], indent=1))
    if personas:
        from kryptonite.models.evaluation.personas import benchmark
        from kryptonite.serving.evaluation import served_rows

        rows = served_rows(data, settings, settings.seed)
        (out / "personas.md").write_text(benchmark(data, recommend=rows, seed=settings.seed))
        typer.echo(f"personas: {out / 'personas.md'}")


def register(app: typer.Typer) -> None:
    """Add `train` and `evaluate` to the `kryptonite` command."""
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)
