"""``kryptonite serve gateway``: the FastAPI app under uvicorn (one configuration for the
CLI, the demo supervisor, the tests and the benchmarks)."""

from __future__ import annotations

import uvicorn

from kryptonite.config import Settings
from kryptonite.gateway.app import create_app


def server(
    settings: Settings, *, host: str | None = None, port: int | None = None
) -> uvicorn.Server:
    """A uvicorn server for the gateway; uvicorn drains in-flight requests on shutdown."""
    config = uvicorn.Config(
        create_app(settings),
        host=host or settings.host,
        port=settings.gateway_port if port is None else port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=int(settings.rpc_shutdown_grace_s),
    )
    return uvicorn.Server(config)


async def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM inside the caller's event loop."""
    await server(settings).serve()


def run(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM on uvicorn's own loop (uvloop when installed)."""
    server(settings, host=host, port=port).run()
