"""Prometheus metrics of one gateway app (own registry, so several apps can coexist)."""

from __future__ import annotations

import itertools
import os
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kryptonite.telemetry import REQUEST_ID_HEADER, clean_request_id, request_id_var

_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count()


def fast_request_id() -> str:
    """A process-unique id without a syscall per request (uuid4 reads urandom)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


class GatewayMetrics:
    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._served: dict[tuple[str, str], Counter] = {}
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kryptonite_http_requests_total",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kryptonite_http_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.recommendations = Counter(
            "kryptonite_recommendations_total",
            "Recommendation lists served, by strategy and outcome (hit, miss, degraded).",
            ["strategy", "outcome"],
            registry=self.registry,
        )
        self.downstream_failures = Counter(
            "kryptonite_downstream_failures_total",
            "Failed calls to a downstream service or store.",
            ["target"],
            registry=self.registry,
        )

    def served(self, strategy: str, outcome: str) -> None:
        """Count one recommendation list served (label children memoized: the hot path)."""
        key = (strategy, outcome)
        child = self._served.get(key)
        if child is None:
            child = self._served[key] = self.recommendations.labels(strategy, outcome)
        child.inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count and time one request (label children memoized: the hot path)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class MetricsMiddleware:
    """Pure ASGI middleware: request id in/out (contextvar) and per-route metrics."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode())
        request_id = clean_request_id(raw) if raw else fast_request_id()
        token = request_id_var.set(request_id)
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.observe(scope["method"], path, status, time.perf_counter() - start)
            request_id_var.reset(token)
