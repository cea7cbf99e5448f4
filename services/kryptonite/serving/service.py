"""A model-backed gRPC service process: server + model holder, one life cycle for all three.

Each service's ``main.py`` only says which models it needs, how to build its bundle and
which servicer to register; :class:`ModelService` does the rest (bind, NOT_SERVING until
the models are loaded, hot reload in the background, graceful shutdown).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

from kryptonite.config import Settings
from kryptonite.rpc.server import RpcServer, ServiceDef, run_service
from kryptonite.serving.model_holder import ModelHolder
from kryptonite.store.artifacts import ArtifactStore, store_from_settings
from kryptonite.telemetry import remaining_s

B = TypeVar("B")
P = ParamSpec("P")
R = TypeVar("R")


async def off_loop(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run CPU-bound model work in a thread, unless the call's deadline has already passed
    (then DEADLINE_EXCEEDED without doing the work)."""
    left = remaining_s()
    if left is not None and left <= 0:
        raise TimeoutError("deadline exceeded before scoring")
    return await asyncio.to_thread(fn, *args, **kwargs)


@dataclass
class ModelService(Generic[B]):
    """One running service: its :class:`RpcServer` and its :class:`ModelHolder`."""

    name: str
    server: RpcServer
    holder: ModelHolder[B]

    async def start(self) -> int:
        """Bind (NOT_SERVING), load the models, then SERVING; returns the port."""
        port = await self.server.start()
        await self.holder.start()
        await self.server.set_serving()
        return port

    async def stop(self, grace_s: float | None = None) -> None:
        await self.server.stop(grace_s)
        await self.holder.close()

    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT (the console command)."""
        await run_service(self.server, load=self.holder.start, close=self.holder.close)


def store_for(settings: Settings, store: ArtifactStore | None) -> ArtifactStore:
    return store if store is not None else store_from_settings(settings)


def limit_threads(n: int) -> None:
    """Cap intra-op threads of BLAS/OpenMP (threadpoolctl) and torch in this process:
    each call scores in its own thread, and nested pools only oversubscribe the cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def model_service(
    name: str,
    settings: Settings,
    holder: ModelHolder[B],
    service: ServiceDef,
    **server_overrides: Any,
) -> ModelService[B]:
    """Wire ``holder`` and ``service`` into a server configured from ``settings``."""
    limit_threads(settings.service_threads)
    server = RpcServer.from_settings(name, [service], settings, **server_overrides)
    return ModelService(name, server, holder)
