"""Prometheus metrics of gRPC servers, exposed on a separate HTTP port."""

from __future__ import annotations

from functools import lru_cache
from http.server import ThreadingHTTPServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import start_http_server as _start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RpcMetrics:
    """Server-side call metrics, labelled by gRPC service and method."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.latency = Histogram(
            "kryptonite_rpc_server_handling_seconds",
            "Time to handle a gRPC call, by service and method.",
            ["service", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.handled = Counter(
            "kryptonite_rpc_server_handled",
            "gRPC calls completed, by service, method and status code.",
            ["service", "method", "code"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "kryptonite_rpc_server_in_flight",
            "gRPC calls being handled.",
            ["service"],
            registry=registry,
        )

    def observe(self, full_method: str, code: str, seconds: float) -> None:
        service, method = split_method(full_method)
        self.latency.labels(service, method).observe(seconds)
        self.handled.labels(service, method, code).inc()


def split_method(full_method: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` → (``pkg.Service``, ``Method``)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service or "unknown", method


@lru_cache(maxsize=1)
def default_metrics() -> RpcMetrics:
    """The process-wide metrics on the default registry (created once)."""
    return RpcMetrics()


def start_metrics_server(
    port: int, host: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY
) -> ThreadingHTTPServer:
    """Serve ``/metrics`` from a daemon thread; returns the server (``.server_port``)."""
    server, _thread = _start_http_server(port, addr=host, registry=registry)
    return server
