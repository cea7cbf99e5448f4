"""/healthz (live), /readyz (database, cache, downstream services), /metrics.

/readyz and /metrics describe the internals, so they answer only requests that reached
the pod directly (kubelet probes, Prometheus scrapes): one that came through a proxy (the
ingress adds ``X-Forwarded-For``/``Forwarded``, which a client cannot remove) gets 404.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from kryptonite.gateway.deps import StateDep
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.schemas import ReadyOut

router = APIRouter(tags=["health"])
_PROXY_HEADERS = (b"x-forwarded-for", b"forwarded")


async def inside_cluster(request: Request) -> None:
    """404 for a request relayed by a proxy (the ingress): internal endpoints only."""
    if any(name in _PROXY_HEADERS for name, _ in request.scope["headers"]):
        raise ApiError(404, "not found")


Internal = [Depends(inside_cluster)]


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (no dependency checked)."""
    return {"status": "ok"}


async def _check(coro, timeout_s: float) -> str:
    try:
        async with asyncio.timeout(timeout_s):
            result = await coro
    except Exception as exc:
        return f"down: {type(exc).__name__}"
    if isinstance(result, int) and result != health_pb2.HealthCheckResponse.SERVING:
        return "not_serving"
    return "ok"


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "neither database nor cache answers"}},
    dependencies=Internal,
)
async def readyz(state: StateDep) -> JSONResponse:
    """Each dependency's state. ``ready`` only when every one is ok; ``degraded`` (still
    200: the gateway serves fallbacks around the rest, see docs/api.md) when the database
    or the cache answers but something else does not (a service down or NOT_SERVING);
    ``unavailable`` (503) when neither does."""

    async def db() -> None:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    timeout = max(state.settings.rpc_timeout_s, 0.5)
    names = ("database", "cache", "candidates", "ranking", "content")
    results = await asyncio.gather(
        _check(db(), 2.0),
        _check(state.cache.ping(), timeout),
        _check(state.candidates.health(), timeout),
        _check(state.ranking.health(), timeout),
        _check(state.content.health(), timeout),
    )
    checks = dict(zip(names, results, strict=True))
    serving = checks["database"] == "ok" or checks["cache"] == "ok"
    if not serving:
        status = "unavailable"
    elif all(v == "ok" for v in checks.values()):
        status = "ready"
    else:
        status = "degraded"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if serving else 503)


@router.get("/metrics", include_in_schema=False, dependencies=Internal)
async def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
