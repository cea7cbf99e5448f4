"""``kryptonite datasets ...``: download a MovieLens release, write a synthetic one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kryptonite.config import get_settings
from kryptonite.datasets.download import DownloadError, ensure_dataset
from kryptonite.datasets.registry import UnknownDatasetError, get_spec


def register(app: typer.Typer) -> None:
    """Add the ``datasets`` command group to ``app``."""
    group = typer.Typer(help="MovieLens data sets: download, synthesize.", no_args_is_help=True)
    group.command("download")(download)
    group.command("synth")(synth)
    app.add_typer(group, name="datasets")


def download(
    dataset: Annotated[str, typer.Option(help="MovieLens release, e.g. ml-1m, ml-25m.")],
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Fetch, verify and unpack a GroupLens archive (a local copy under data_dir wins)."""
    settings = get_settings()
    try:
        folder = ensure_dataset(get_spec(dataset), settings, progress=progress)
    except (DownloadError, UnknownDatasetError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(folder))


def synth(
    users: Annotated[int, typer.Option(min=1, help="Number of users.")],
    movies: Annotated[int, typer.Option(min=1, help="Number of movies.")],
    ratings: Annotated[int, typer.Option(min=1, help="Exact number of ratings.")],
    out: Annotated[Path, typer.Option(help="Output folder (created).")],
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Write a synthetic MovieLens-format set (ratings, movies, tags, links .csv)."""
    from kryptonite.datasets.synth import generate  # numpy/pandas: not in the gateway image

    try:
        summary = generate(
            out, users=users, movies=movies, ratings=ratings, seed=seed, progress=progress
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{summary.out_dir}: {summary.ratings} ratings, {summary.users} users, "
        f"{summary.movies} movies, {summary.tags} tags in {summary.seconds:.1f}s"
    )
