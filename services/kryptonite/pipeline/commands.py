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


def train_command(dataset: DatasetOpt = "ml-latest-small", data_dir: DataDirOpt = None) -> None:
    """Train every model and publish each as a new artifact version."""
    from kryptonite.pipeline.train import train_all
    from kryptonite.store.artifacts import store_from_settings

    settings = get_settings()
    store = store_from_settings(settings)
    trained = train_all(load_train_data(dataset, data_dir), store)
    for t in trained:
        uri = t.manifest.uri if t.manifest else "-"
        typer.echo(f"{t.name:12s} {t.fit_seconds:7.1f}s  {uri}")


def evaluate_command(
    out: Annotated[Path, typer.Option("--out", help="Report directory")],
    dataset: DatasetOpt = "ml-latest-small",
    data_dir: DataDirOpt = None,
) -> None:
    """Offline evaluation of every model and baseline; writes OUT/metrics.json, .md, PNGs."""
    from kryptonite.pipeline.evaluate import evaluate

    result = evaluate(
        load_train_data(dataset, data_dir), dataset=dataset, out=out, seed=get_settings().seed
    )
    typer.echo(json.dumps(result["models"], indent=1))


def register(app: typer.Typer) -> None:
    """Add `train` and `evaluate` to the `kryptonite` command."""
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)
