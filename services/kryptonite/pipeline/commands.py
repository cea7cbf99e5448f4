"""`kryptonite train` and `kryptonite evaluate`; the CLI calls ``register(app)``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import Engine

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


def load_db_train_data(engine: Engine, chunk_rows: int) -> TrainData:
    """Everything in the database (MovieLens and app users) -> ``TrainData``."""
    from kryptonite.pipeline.train import train_data
    from kryptonite.store.training import read_training_frames

    f = read_training_frames(engine, chunk_rows=chunk_rows)
    return train_data(
        ratings=f.ratings,
        movies=f.movies,
        tags=f.tags,
        genome_tags=f.genome_tags,
        genome_scores=f.genome_scores,
        overviews=f.overviews,
        user_lists=f.user_lists,
        events=f.events,
    )


class Source(StrEnum):
    db = "db"
    files = "files"


DatasetOpt = Annotated[
    str, typer.Option("--dataset", help="MovieLens release, e.g. ml-latest-small")
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Folder holding the data set (default: settings)")
]
SourceOpt = Annotated[
    Source,
    typer.Option(
        "--source",
        help="db: the configured database (what ingest and the app wrote); "
        "files: the --dataset files under --data-dir (experiments).",
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", help="production or small model sizes (default: settings)"),
]
ModelsOpt = Annotated[
    str | None,
    typer.Option("--models", help="Comma-separated models to train (default: all)"),
]


RetrainOpt = Annotated[
    bool, typer.Option("--retrain", help="Train even when a published model is up to date.")
]


def train_command(
    dataset: DatasetOpt = "ml-latest-small",
    data_dir: DataDirOpt = None,
    source: SourceOpt = Source.db,
    profile: ProfileOpt = None,
    models: ModelsOpt = None,
    retrain: RetrainOpt = False,
) -> list:
    """Train every model, publish each as a new version; the gate promotes or rejects it.
    A model whose data, code and parameters are unchanged keeps its published version
    unless --retrain. Under torchrun (``--models ncf``), every rank trains and rank 0
    publishes. Returns the ``pipeline.train.Trained`` of each model.
    """
    from contextlib import nullcontext

    from kryptonite.pipeline import distributed
    from kryptonite.pipeline.promotion import Gate, holdout
    from kryptonite.pipeline.reuse import prune_versions
    from kryptonite.pipeline.train import PROFILES, train_all
    from kryptonite.progress import step
    from kryptonite.store.artifacts import store_from_settings
    from kryptonite.store.engine import create_sync_engine
    from kryptonite.store.versions import VersionRecorder, is_recorded

    settings = get_settings()
    name = profile or settings.train_profile
    if name not in PROFILES:
        raise typer.BadParameter(f"unknown profile {name!r}: one of {', '.join(PROFILES)}")
    factories = PROFILES[name](settings.seed)
    if models:
        wanted = [m.strip() for m in models.split(",") if m.strip()]
        if unknown := sorted(set(wanted) - set(factories)):
            raise typer.BadParameter(f"unknown models {unknown}: one of {', '.join(factories)}")
        factories = {m: factories[m] for m in wanted}
    if settings.ncf_batch_size and "ncf" in factories:
        factories["ncf"] = _sized(factories["ncf"], settings.ncf_batch_size)
    dist_run = distributed.launched()
    if dist_run and not set(factories) <= distributed.DISTRIBUTED_MODELS:
        raise typer.BadParameter(
            f"under torchrun only {sorted(distributed.DISTRIBUTED_MODELS)} train distributed: "
            "pass --models ncf"
        )
    engine = create_sync_engine(settings.resolved_database_url)
    group = distributed.process_group() if dist_run else nullcontext(0)
    try:
        with step("loading training data"):
            if source is Source.db:
                data = load_db_train_data(engine, settings.train_chunk_rows)
            else:
                data = load_train_data(dataset, data_dir)
        recorded = is_recorded(engine)
        store = store_from_settings(settings)
        with group as rank:
            trained = train_all(
                data,
                store if rank == 0 else None,  # one rank publishes
                models=factories,
                on_published=VersionRecorder(store, engine if recorded else None),
                gate=Gate(settings.promotion_metric, settings.promotion_tolerance),
                slice_=holdout(data, users=settings.promotion_holdout_users, seed=settings.seed),
                progress=rank == 0,
                reuse=not retrain,
            )
    finally:
        engine.dispose()
    for t in trained:
        m = t.manifest
        status = m.metrics.get("promotion", {}).get("status", "-") if m else "-"
        took = "  reused" if t.reused else f"{t.fit_seconds:7.1f}s"
        typer.echo(f"{t.name:12s} {took}  {status:8s} {m.uri if m else '-'}")
    types = [t.manifest.model_type for t in trained if t.manifest]
    for model_type, gone in prune_versions(
        store, types, settings.artifact_keep_versions, settings
    ).items():
        typer.echo(f"pruned {len(gone)} old {model_type} version(s)")
    return trained


def _sized(factory, batch_size: int):
    """``factory`` with NCF's batch size (per rank under torchrun) set."""

    def make():
        model = factory()
        model.params.batch_size = batch_size
        return model

    return make


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
