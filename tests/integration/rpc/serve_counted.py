"""Run one gRPC service process with its Prometheus port on an ephemeral port.

``python tests/integration/rpc/serve_counted.py SERVICE PORT`` (settings from KRYPTONITE_*
env). Once SERVING it prints ``{"port": ..., "metrics_port": ...}`` on one stdout line, so
a test can count the calls this very process handled (``kryptonite_rpc_server_handled``).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys

from kryptonite.config import get_settings
from kryptonite.logging import configure_logging


async def serve(service: str, port: int) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    module = importlib.import_module(f"kryptonite.{service}.main")
    svc = module.create(settings, port=port, metrics_port=0)
    await svc.start()
    print(json.dumps({"port": svc.server.port, "metrics_port": svc.server.metrics_port}))
    sys.stdout.flush()
    try:
        await svc.server.serve_until_signal()
    finally:
        await svc.stop()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
