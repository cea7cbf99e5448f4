"""Bootstrap shared by the candidates, ranking and content services.

``grpc.aio`` server with message size limits, the one interceptor, ``grpc.health.v1``
(NOT_SERVING until the service calls :meth:`RpcServer.set_serving`), reflection, a
Prometheus ``/metrics`` port, and graceful shutdown on SIGTERM/SIGINT (health goes
NOT_SERVING, new calls are refused, in-flight calls drain for ``grace_s``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from kryptonite.config import Settings
from kryptonite.rpc.interceptors import ServerInterceptor
from kryptonite.rpc.metrics import RpcMetrics, default_metrics, start_metrics_server
from kryptonite.rpc.service_auth import ServiceAuthInterceptor, ServiceTokens

log = logging.getLogger("kryptonite.rpc.server")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class ServiceDef:
    """A servicer, the generated ``add_XServicer_to_server`` and the full service name."""

    servicer: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    name: str


def service_def(servicer: Any, pb2_grpc: Any, pb2: Any, service: str) -> ServiceDef:
    """Build a :class:`ServiceDef` from generated modules, e.g.
    ``service_def(s, ranking_pb2_grpc, ranking_pb2, "RankingService")``."""
    return ServiceDef(
        servicer=servicer,
        add_to_server=getattr(pb2_grpc, f"add_{service}Servicer_to_server"),
        name=pb2.DESCRIPTOR.services_by_name[service].full_name,
    )


class RpcServer:
    """One gRPC service process: create, :meth:`start`, load models, :meth:`set_serving`,
    then :meth:`serve_until_signal` (or :meth:`stop` in tests)."""

    def __init__(
        self,
        services: Sequence[ServiceDef],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        metrics_port: int | None = None,
        max_message_bytes: int = 4 * 1024 * 1024,
        grace_s: float = 10.0,
        max_concurrent_rpcs: int | None = None,
        max_connection_age_s: float | None = None,
        metrics: RpcMetrics | None = None,
        service_tokens: ServiceTokens | None = None,
    ) -> None:
        self.services = list(services)
        self.grace_s = grace_s
        self._address = f"{host}:{port}"
        self._host = host
        self._metrics_port = metrics_port
        self._metrics = metrics or default_metrics()
        self._metrics_http: ThreadingHTTPServer | None = None
        self._stopping: asyncio.Task[None] | None = None
        self.health = health.aio.HealthServicer()
        options: list[tuple[str, int]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if max_connection_age_s is not None:
            # GOAWAY after the age (gRPC adds +-10% jitter): clients reconnect, re-resolve
            # DNS and so find pods added since they connected. In-flight calls get grace_s.
            options += [
                ("grpc.max_connection_age_ms", int(max_connection_age_s * 1000)),
                ("grpc.max_connection_age_grace_ms", int(grace_s * 1000)),
            ]
        interceptors: list[grpc.aio.ServerInterceptor] = [ServerInterceptor(self._metrics)]
        if service_tokens is not None:  # inside the metrics one: refusals are counted
            interceptors.append(ServiceAuthInterceptor(service_tokens))
        self.server = grpc.aio.server(
            interceptors=interceptors,
            options=options,
            maximum_concurrent_rpcs=max_concurrent_rpcs,
        )
        for svc in self.services:
            svc.add_to_server(svc.servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = [svc.name for svc in self.services]
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = 0
        self.metrics_port: int | None = None

    @classmethod
    def from_settings(
        cls, name: str, services: Sequence[ServiceDef], settings: Settings, **overrides: Any
    ) -> RpcServer:
        """The server of service ``name`` ("candidates", "ranking", "content")."""
        kwargs: dict[str, Any] = {
            "host": settings.host,
            "port": getattr(settings, f"{name}_port"),
            "metrics_port": getattr(settings, f"{name}_metrics_port"),
            "max_message_bytes": settings.rpc_max_message_bytes,
            "grace_s": settings.rpc_shutdown_grace_s,
            "max_connection_age_s": settings.rpc_max_connection_age_s,
            "service_tokens": ServiceTokens.from_settings(settings),
        }
        return cls(services, **(kwargs | overrides))

    async def start(self) -> int:
        """Bind and start (health NOT_SERVING); returns the bound port."""
        self.port = self.server.add_insecure_port(self._address)
        if self.port == 0:
            raise RuntimeError(f"cannot bind gRPC server to {self._address}")
        await self._set_all(NOT_SERVING)
        await self.server.start()
        if self._metrics_port is not None:
            try:
                self._metrics_http = start_metrics_server(
                    self._metrics_port, self._host, self._metrics.registry
                )
                self.metrics_port = self._metrics_http.server_port
            except OSError as exc:  # the service still serves: metrics are not its job
                log.error(
                    "metrics port %s:%d unavailable (%s): serving without /metrics; set "
                    "KRYPTONITE_<SERVICE>_METRICS_PORT to a free port (0: any)",
                    self._host,
                    self._metrics_port,
                    exc.strerror or exc,
                )
        log.info(
            "gRPC server on %s:%d (%s), metrics port %s",
            self._host,
            self.port,
            ", ".join(s.name for s in self.services),
            self.metrics_port,
        )
        return self.port

    async def set_serving(self, serving: bool = True) -> None:
        """Report SERVING (model loaded) or NOT_SERVING for the server and each service."""
        await self._set_all(SERVING if serving else NOT_SERVING)

    async def _set_all(self, status: int) -> None:
        for name in ("", *(s.name for s in self.services)):
            await self.health.set(name, status)

    async def stop(self, grace_s: float | None = None) -> None:
        """Graceful stop: NOT_SERVING, refuse new calls, drain in-flight ones. Idempotent."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop(grace_s))
        await asyncio.shield(self._stopping)

    async def _stop(self, grace_s: float | None) -> None:
        grace = self.grace_s if grace_s is None else grace_s
        log.info("shutting down gRPC server on port %d (grace %.1fs)", self.port, grace)
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self._metrics_http is not None:  # shutdown() polls for up to 0.5 s: off the loop
            await asyncio.to_thread(self._metrics_http.shutdown)
            self._metrics_http.server_close()

    async def serve_until_signal(self) -> None:
        """Block until SIGTERM/SIGINT, then :meth:`stop` gracefully."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()  # (never cancel server.wait_for_termination: it breaks stop())
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
        await self.stop()


async def run_service(
    server: RpcServer,
    *,
    load: Callable[[], Awaitable[None]] | None = None,
    close: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """A service's whole life: start (NOT_SERVING), ``load`` its model, SERVING, wait for
    SIGTERM/SIGINT, drain, then ``close`` its resources (clients, reload task)."""
    await server.start()
    try:
        if load is not None:
            await load()
        await server.set_serving()
        await server.serve_until_signal()
    finally:
        await server.stop()
        if close is not None:
            await close()
