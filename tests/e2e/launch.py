"""Run one Kryptonite process on a given loopback port (settings from KRYPTONITE_* env).

``python tests/e2e/launch.py SERVICE PORT`` with SERVICE one of candidates, ranking,
content, gateway. The gRPC services serve without a metrics port (tests run several
stacks side by side); the gateway runs under uvicorn as ``kryptonite serve gateway`` does.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

from kryptonite.config import get_settings
from kryptonite.logging import configure_logging


def main(service: str, port: int) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if service == "gateway":
        from kryptonite.gateway import main as gateway

        gateway.run(settings, port=port)
        return
    module = importlib.import_module(f"kryptonite.{service}.main")

    async def run() -> None:  # the grpc.aio server must be created inside the loop
        await module.create(settings, port=port, metrics_port=None).run()

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
