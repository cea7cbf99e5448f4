"""``create_app(settings)``: the FastAPI gateway. Nothing happens at import time;
``lifespan`` opens the async engine, the cache, the sign-in limiter and the gRPC clients,
and closes them. Security headers and CORS: :mod:`kryptonite.gateway.headers`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kryptonite.config import Settings
from kryptonite.gateway import docs, errors, headers
from kryptonite.gateway.bodylimit import BodyLimitMiddleware
from kryptonite.gateway.metrics import GatewayMetrics, MetricsMiddleware
from kryptonite.gateway.ratelimit import LoginLimiter
from kryptonite.gateway.routes import auth, health, hidden, movies, mylist, recommendations
from kryptonite.gateway.state import open_state
from kryptonite.gateway.web import install as install_web

log = logging.getLogger("kryptonite.gateway")


def create_app(settings: Settings) -> FastAPI:
    """The gateway app for ``settings``."""
    metrics = GatewayMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = open_state(settings, metrics)
        app.state.gateway = state
        app.state.login_limiter = LoginLimiter.for_cache(settings, state.cache)
        if not await state.refresh_catalog():
            log.warning("starting without a catalog snapshot (database unreachable)")
        state.start_refresher()
        state.tokens.revocations.start()
        try:
            yield
        finally:
            await state.tokens.revocations.close()
            await state.close()

    app = FastAPI(
        title="Kryptonite",
        version="0.1.0",
        description="Movie recommendations: accounts, movies, personal list, ratings and "
        'two-stage recommendations. Every error is `{"error": {"code", "message"}}`.',
        lifespan=lifespan,
        docs_url=None,  # served offline by gateway/docs.py
        redoc_url=None,
        # Metrics are Prometheus (gateway/metrics.py); FastAPI's OpenTelemetry hooks would
        # only look up three unconfigured providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    errors.install(app)
    # Innermost: its 413s still get metrics and security headers.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    headers.install(app, settings)  # outside metrics: CORS preflights are answered first
    # Routes are matched in order: the hottest (recommendations) first.
    for router in (
        recommendations.router,
        health.router,
        auth.router,
        movies.router,
        mylist.router,
        hidden.router,
    ):
        app.include_router(router)
    install_web(app)
    docs.install(app)
    _publish_runtime_limits(app, settings)
    return app


def _publish_runtime_limits(app: FastAPI, settings: Settings) -> None:
    """Put this deployment's recommendations ``limit`` cap (a setting, so not known to
    the route declarations) into the OpenAPI schema clients read."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            for path in ("/me/recommendations", "/users/{user_id}/recommendations"):
                for param in schema["paths"][path]["get"]["parameters"]:
                    if param["name"] == "limit":
                        param["schema"]["maximum"] = settings.gateway_max_limit
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
