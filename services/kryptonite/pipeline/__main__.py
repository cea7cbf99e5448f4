"""`python -m kryptonite.pipeline train|evaluate ...` (same commands as `kryptonite`)."""

import typer

from kryptonite.pipeline.commands import register

app = typer.Typer(add_completion=False, help="Kryptonite offline pipeline.")
register(app)

if __name__ == "__main__":
    app()
