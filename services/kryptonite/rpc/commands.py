"""`kryptonite serve SERVICE`; the CLI calls ``register(app)``.

Each entry of :data:`SERVERS` names a module with ``async def serve(settings)``; the
gateway is added as one more entry, and its module's ``run(settings)`` is used instead so
uvicorn picks its own event loop (uvloop).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Annotated

import typer

from kryptonite.config import get_settings
from kryptonite.logging import configure_logging

#: Service name -> module whose ``serve(settings)`` coroutine runs that process.
SERVERS: dict[str, str] = {
    "candidates": "kryptonite.candidates.main",
    "ranking": "kryptonite.ranking.main",
    "content": "kryptonite.content.main",
    "gateway": "kryptonite.gateway.main",
}


def serve_command(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVERS)}.")],
) -> None:
    """Run one service until SIGTERM/SIGINT (port and host from settings)."""
    if service not in SERVERS:
        raise typer.BadParameter(f"unknown service {service!r}; choose from {', '.join(SERVERS)}")
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    module = importlib.import_module(SERVERS[service])
    run = getattr(module, "run", None)
    if run is not None:
        run(settings)
    else:
        asyncio.run(module.serve(settings))


def register(app: typer.Typer) -> None:
    """Add `serve` to the `kryptonite` command."""
    app.command("serve")(serve_command)
