"""Service-to-service authentication (issue 14): a real grpc.aio server with the
interceptor on loopback; calls without a valid signed service token are refused."""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry

from kryptonite.config import Settings
from kryptonite.rpc.clients import ContentClient
from kryptonite.rpc.errors import NotFound
from kryptonite.rpc.generated.v1 import content_pb2, content_pb2_grpc
from kryptonite.rpc.metrics import RpcMetrics
from kryptonite.rpc.server import RpcServer, service_def
from kryptonite.rpc.service_auth import METADATA_KEY, ServiceTokens

SECRET = "service-secret-0123456789abcdef"  # pragma: allowlist secret


class Content(content_pb2_grpc.ContentServiceServicer):
    async def SimilarMovies(self, request, context):
        if request.movie_id != 1:
            raise NotFound("unknown movie")
        return content_pb2.SimilarMoviesResponse(model_version="content-1")


def _settings(**overrides) -> Settings:
    return Settings(token_secret=SECRET, content_port=0, content_metrics_port=None, **overrides)


async def _server() -> tuple[RpcServer, str]:
    svc = service_def(Content(), content_pb2_grpc, content_pb2, "ContentService")
    server = RpcServer.from_settings(
        "content", [svc], _settings(), metrics=RpcMetrics(CollectorRegistry())
    )
    port = await server.start()
    await server.set_serving()
    return server, f"127.0.0.1:{port}"


@pytest.mark.asyncio
async def test_calls_need_a_valid_service_token() -> None:
    server, addr = await _server()
    tokens = ServiceTokens(SECRET)
    request = content_pb2.SimilarMoviesRequest(movie_id=1, limit=3)
    bad = {
        "none": None,
        "forged": "v1.gateway.9999999999." + "0" * 64,
        "other key": ServiceTokens("another-secret-value-xyz").issue("gateway"),
        "expired": tokens.issue("gateway", now=time.time() - 3600),
        "garbage": "not-a-token",
    }
    try:
        async with grpc.aio.insecure_channel(addr) as channel:
            stub = content_pb2_grpc.ContentServiceStub(channel)
            for name, token in bad.items():
                metadata = () if token is None else ((METADATA_KEY, token),)
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.SimilarMovies(request, metadata=metadata, timeout=5)
                assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
            good = ((METADATA_KEY, tokens.issue("gateway")),)
            reply = await stub.SimilarMovies(request, metadata=good, timeout=5)
            assert reply.model_version == "content-1"
            # kubelet's gRPC readiness probe sends no metadata: health stays open.
            health = health_pb2_grpc.HealthStub(channel)
            status = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert status.status == health_pb2.HealthCheckResponse.SERVING
        async with ContentClient.from_settings(_settings(content_addr=addr)) as client:
            reply = await client.similar_movies(request)
            assert reply.model_version == "content-1"
    finally:
        await server.stop(0)


def test_token_checks() -> None:
    tokens = ServiceTokens(SECRET, ttl_s=60)
    token = tokens.issue("gateway", now=1000.0)
    assert tokens.verify(token, now=1059.0) == "gateway"
    assert tokens.verify(token, now=1061.0) is None
    assert tokens.verify(token.replace("gateway", "gatewax"), now=1000.0) is None
    assert ServiceTokens.from_settings(Settings()) is None  # no shared key: off (dev)
