"""The ``kryptonite`` command: demo, migrate, ingest, datasets, train, evaluate, serve."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from kryptonite.config import Settings, get_settings
from kryptonite.logging import configure_logging

app = typer.Typer(
    help="Kryptonite movie recommender.", no_args_is_help=True, pretty_exceptions_enable=False
)
log = logging.getLogger("kryptonite")

DatasetOpt = Annotated[str, typer.Option("--dataset", "-d", help="MovieLens release name.")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Local data folder (default: settings).")
]


def settings_for(data_dir: Path | None = None) -> Settings:
    """Process settings, with ``--data-dir`` applied when given."""
    settings = get_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    configure_logging(settings.log_level, settings.log_json)
    return settings


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    from kryptonite.store.engine import create_sync_engine
    from kryptonite.store.migrate import upgrade

    settings = settings_for()
    upgrade(create_sync_engine(settings.resolved_database_url))
    typer.echo("database schema is up to date")


@app.command()
def ingest(
    dataset: DatasetOpt = "ml-latest-small",
    data_dir: DataDirOpt = None,
    strict: Annotated[bool, typer.Option(help="Fail on the first bad row.")] = False,
    force: Annotated[bool, typer.Option(help="Rewrite even if unchanged.")] = False,
) -> bool:
    """Load a MovieLens data set into the configured store (idempotent, all-or-nothing).
    Returns whether the data was unchanged (nothing written)."""
    from kryptonite.datasets.ingest import ingest_dataset

    settings = settings_for(data_dir)
    result, report = ingest_dataset(settings, dataset, strict=strict, force=force)
    if result.unchanged:
        typer.echo(f"{dataset}: unchanged since the last ingest, nothing written")
    else:
        rows = ", ".join(f"{name} {n:,}" for name, n in result.counts.items())
        typer.echo(f"{dataset}: loaded in {result.seconds:.1f}s: {rows}")
    typer.echo(report.summary())
    return result.unchanged


@app.command()
def demo(
    data_dir: DataDirOpt = None,
    serve: Annotated[bool, typer.Option(help="Start the services after the offline jobs.")] = True,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Train even when the published models are current.")
    ] = False,
) -> None:
    """The main job: migrate, ingest ml-latest-small, train, precompute, serve on loopback."""
    from kryptonite.pipeline.commands import train_command
    from kryptonite.pipeline.refresh_commands import daily_update_command, precompute_command
    from kryptonite.progress import step
    from kryptonite.supervisor import SERVICES, check_ports, log_dir_for, running, watch

    settings = settings_for(data_dir)
    ports = {s: (settings.host, getattr(settings, f"{s}_port")) for s in SERVICES}
    if serve:  # before minutes of work: a taken port fails now, in one line
        check_ports(ports)
    with step("migrate"):
        migrate()
    with step("ingest"):
        unchanged = ingest(dataset="ml-latest-small", data_dir=data_dir, strict=False, force=False)
    trained = train_command(dataset="ml-latest-small", data_dir=data_dir, retrain=retrain)
    with step("daily-update"):
        daily_update_command(day=None, n=20, window_days=7)
    if unchanged and trained and all(t.reused for t in trained):
        typer.echo("precompute: skipped, data and models unchanged since the last run")
    else:
        with step("precompute"):
            precompute_command(shard=0, shards=1)
    if not serve:
        return
    url = f"http://{settings.host}:{settings.gateway_port}"
    logs = log_dir_for(settings.home)
    check_ports(ports)  # again: another run may have started meanwhile
    typer.echo(f"starting {', '.join(SERVICES)} (logs in {logs})")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the children too, as Ctrl-C does
    try:
        with running(SERVICES, f"{url}/readyz", log_dir=logs, say=typer.echo) as children:
            typer.echo(f"Kryptonite is up: {url}/  (API docs: {url}/docs). Ctrl-C stops it.")
            watch(children)
    except KeyboardInterrupt:
        typer.echo("stopped")


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Console entry point: expected failures print one line and exit 2."""
    from kryptonite.errors import EXPECTED_ERRORS

    try:
        app()
    except EXPECTED_ERRORS as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


def _register_command_groups() -> None:
    """Attach the command groups that live beside their code."""
    from kryptonite.datasets.commands import register as register_datasets
    from kryptonite.pipeline.commands import register as register_pipeline
    from kryptonite.pipeline.enrich import register as register_enrich
    from kryptonite.pipeline.refresh_commands import register as register_refresh
    from kryptonite.rpc.commands import register as register_serve

    for register in (
        register_datasets,
        register_pipeline,
        register_refresh,
        register_enrich,
        register_serve,
    ):
        register(app)


_register_command_groups()
