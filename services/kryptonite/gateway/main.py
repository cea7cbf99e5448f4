"""``kryptonite serve gateway``: the FastAPI app under uvicorn."""

from __future__ import annotations

import uvicorn

from kryptonite.config import Settings
from kryptonite.gateway.app import create_app


async def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn drains in-flight requests on shutdown."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.gateway_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        timeout_graceful_shutdown=int(settings.rpc_shutdown_grace_s),
    )
    await uvicorn.Server(config).serve()
