"""The shared gRPC bootstrap against a real loopback server and a scripted servicer."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import CollectorRegistry

from kryptonite.config import Settings
from kryptonite.rpc.clients import ContentClient
from kryptonite.rpc.errors import NotFound, NotReady
from kryptonite.rpc.generated.v1 import common_pb2, content_pb2, content_pb2_grpc
from kryptonite.rpc.metrics import RpcMetrics
from kryptonite.rpc.server import RpcServer, run_service, service_def
from kryptonite.rpc.validation import check_id, check_limit
from kryptonite.telemetry import request_id_var

#: movie ids with a scripted behaviour in :class:`ScriptedContent`.
OK, SLOW, BAD, MISSING, NOT_READY, BOOM = 1, 7, -1, 404, 503, 500


@dataclass
class ScriptedContent(content_pb2_grpc.ContentServiceServicer):
    """SimilarMovies behaves by movie id; RecommendForMovies calls SimilarMovies downstream."""

    downstream: ContentClient | None = None
    seen_request_ids: list[str | None] = field(default_factory=list)
    seen_time_remaining: list[float | None] = field(default_factory=list)
    recommend_calls: int = 0
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)

    async def SimilarMovies(
        self, request: content_pb2.SimilarMoviesRequest, context: grpc.aio.ServicerContext
    ) -> content_pb2.SimilarMoviesResponse:
        self.seen_request_ids.append(request_id_var.get())
        self.seen_time_remaining.append(context.time_remaining())
        movie_id = check_id(request.movie_id, field="movie_id")
        limit = check_limit(request.limit, default=3, maximum=100)
        if movie_id == MISSING:
            raise NotFound(f"unknown movie {movie_id}")
        if movie_id == NOT_READY:
            raise NotReady("model not loaded")
        if movie_id == BOOM:
            raise RuntimeError("secret internals")
        if movie_id == SLOW:
            self.slow_started.set()
            await asyncio.sleep(limit / 100)  # limit = hundredths of a second to sleep
        movies = [common_pb2.ScoredMovie(movie_id=movie_id + i, score=1.0 / i) for i in range(1, 4)]
        return content_pb2.SimilarMoviesResponse(movies=movies, model_version="test-1")

    async def RecommendForMovies(
        self, request: content_pb2.RecommendForMoviesRequest, context: grpc.aio.ServicerContext
    ) -> content_pb2.RecommendForMoviesResponse:
        self.recommend_calls += 1
        assert self.downstream is not None
        similar = await self.downstream.similar_movies(
            content_pb2.SimilarMoviesRequest(movie_id=request.movie_ids[0], limit=request.limit),
            timeout_s=5.0,
        )
        return content_pb2.RecommendForMoviesResponse(
            movies=similar.movies, model_version=similar.model_version
        )


@dataclass
class Running:
    server: RpcServer
    servicer: ScriptedContent
    client: ContentClient
    registry: CollectorRegistry

    def count(self, method: str, code: str) -> float:
        value = self.registry.get_sample_value(
            "kryptonite_rpc_server_handled_total",
            {"service": "kryptonite.v1.ContentService", "method": method, "code": code},
        )
        return value or 0.0


async def start_content_server(**overrides: object) -> Running:
    """A started (NOT_SERVING) server built like a service's main.py, on a free port."""
    registry = CollectorRegistry()
    servicer = ScriptedContent()
    server = RpcServer.from_settings(
        "content",
        [service_def(servicer, content_pb2_grpc, content_pb2, "ContentService")],
        Settings(content_port=0),
        **({"metrics": RpcMetrics(registry), "metrics_port": None} | overrides),
    )
    port = await server.start()
    servicer.downstream = ContentClient(f"127.0.0.1:{port}", timeout_s=2.0)
    client = ContentClient(f"127.0.0.1:{port}", timeout_s=2.0)
    return Running(server, servicer, client, registry)


async def close(running: Running) -> None:
    await running.client.close()
    assert running.servicer.downstream is not None
    await running.servicer.downstream.close()
    await running.server.stop(0)


@pytest.fixture
async def content() -> AsyncIterator[Running]:
    """A SERVING content server with a 64 KiB message limit."""
    running = await start_content_server(max_message_bytes=64 * 1024)
    await running.server.set_serving()
    yield running
    await close(running)


SERVICE = "kryptonite.v1.ContentService"


def similar(movie_id: int, limit: int = 0) -> content_pb2.SimilarMoviesRequest:
    return content_pb2.SimilarMoviesRequest(movie_id=movie_id, limit=limit)


async def test_health_not_serving_until_ready() -> None:
    running = await start_content_server()
    try:
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        assert await running.client.health() == not_serving
        assert await running.client.health(SERVICE) == not_serving
        await running.server.set_serving()
        assert await running.client.health() == health_pb2.HealthCheckResponse.SERVING
        assert await running.client.health(SERVICE) == health_pb2.HealthCheckResponse.SERVING
    finally:
        await close(running)


async def test_reflection_lists_services_and_serves_descriptors(content: Running) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(content.client.channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE),
    ]
    replies = [r async for r in stub.ServerReflectionInfo(iter(requests))]
    names = {s.name for s in replies[0].list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
    assert replies[1].file_descriptor_response.file_descriptor_proto


async def test_ok_call_carries_model_version(content: Running) -> None:
    reply = await content.client.similar_movies(similar(OK))
    assert reply.model_version == "test-1"
    assert [m.movie_id for m in reply.movies] == [2, 3, 4]


@pytest.mark.parametrize(
    ("movie_id", "limit", "code"),
    [
        (BAD, 0, grpc.StatusCode.INVALID_ARGUMENT),
        (OK, 1000, grpc.StatusCode.INVALID_ARGUMENT),
        (MISSING, 0, grpc.StatusCode.NOT_FOUND),
        (NOT_READY, 0, grpc.StatusCode.UNAVAILABLE),
        (BOOM, 0, grpc.StatusCode.INTERNAL),
    ],
)
async def test_domain_errors_map_to_status_codes(
    content: Running, movie_id: int, limit: int, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await content.client.similar_movies(similar(movie_id, limit))
    assert err.value.code() == code
    assert "secret" not in (err.value.details() or "")
    assert content.count("SimilarMovies", code.name) >= 1


async def test_oversized_request_rejected_unprocessed(content: Running) -> None:
    big = content_pb2.RecommendForMoviesRequest(movie_ids=range(1, 40_000))
    assert big.ByteSize() > 64 * 1024
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await content.client.recommend_for_movies(big)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert content.servicer.recommend_calls == 0


async def test_deadline_exceeded(content: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await content.client.similar_movies(similar(SLOW, limit=100), timeout_s=0.1)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    for _ in range(50):  # the server records the cancelled handler shortly after
        if content.count("SimilarMovies", "DEADLINE_EXCEEDED"):
            break
        await asyncio.sleep(0.01)
    assert content.count("SimilarMovies", "DEADLINE_EXCEEDED") == 1


async def test_downstream_call_inherits_deadline_and_request_id(content: Running) -> None:
    token = request_id_var.set("req-abc.123")
    try:
        reply = await content.client.recommend_for_movies(
            content_pb2.RecommendForMoviesRequest(movie_ids=[OK]), timeout_s=0.3
        )
    finally:
        request_id_var.reset(token)
    assert reply.model_version == "test-1"
    # the downstream SimilarMovies saw the caller's id and at most its remaining time,
    # although the servicer asked for a 5 s timeout (+10 ms: gRPC rounds deadlines to its
    # timer granularity, 0.3002 s was seen)
    assert content.servicer.seen_request_ids == ["req-abc.123"]
    remaining = content.servicer.seen_time_remaining[0]
    assert remaining is not None and remaining <= 0.31


async def test_request_id_generated_and_echoed(content: Running) -> None:
    call = content.client._stub.SimilarMovies(similar(OK), timeout=1)
    await call
    trailing = dict(await call.trailing_metadata() or ())
    generated = content.servicer.seen_request_ids[-1]
    assert generated and len(generated) == 32
    assert trailing["x-request-id"] == generated

    call = content.client._stub.SimilarMovies(
        similar(OK), timeout=1, metadata=(("x-request-id", "bad id!"),)
    )
    await call
    assert content.servicer.seen_request_ids[-1] not in (None, "bad id!")


async def test_metrics_counted_and_exposed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kryptonite.rpc")
    content = await start_content_server(metrics_port=0)
    await content.server.set_serving()
    await content.client.similar_movies(similar(OK))
    await content.client.similar_movies(similar(OK))
    assert content.count("SimilarMovies", "OK") == 2
    latency = content.registry.get_sample_value(
        "kryptonite_rpc_server_handling_seconds_count",
        {"service": SERVICE, "method": "SimilarMovies"},
    )
    assert latency == 2
    url = f"http://127.0.0.1:{content.server.metrics_port}/metrics"
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=2).read())
    assert b"kryptonite_rpc_server_handled_total" in body
    lines = [r for r in caplog.records if r.getMessage().startswith(f"rpc /{SERVICE}/Similar")]
    assert len(lines) == 2 and all(getattr(r, "request_id", None) for r in lines)
    await close(content)


async def test_graceful_stop_drains_in_flight_call() -> None:
    running = await start_content_server(grace_s=5.0)
    await running.server.set_serving()
    try:
        in_flight = asyncio.ensure_future(
            running.client.similar_movies(similar(SLOW, limit=30), timeout_s=3)
        )
        await running.servicer.slow_started.wait()
        stopping = asyncio.ensure_future(running.server.stop())
        await asyncio.sleep(0.05)
        health = await running.server.health.Check(health_pb2.HealthCheckRequest(), None)
        assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as err:  # new calls are refused
            await running.client.similar_movies(similar(OK), timeout_s=1)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        reply = await in_flight  # ... but the one in flight completes
        assert reply.model_version == "test-1"
        await stopping
    finally:
        await close(running)


async def test_run_service_sigterm_drains_then_closes() -> None:
    servicer = ScriptedContent()
    server = RpcServer(
        [service_def(servicer, content_pb2_grpc, content_pb2, "ContentService")],
        grace_s=5.0,
        metrics=RpcMetrics(CollectorRegistry()),
    )
    loaded, closed = asyncio.Event(), asyncio.Event()

    async def load() -> None:
        loaded.set()

    async def close_resources() -> None:
        closed.set()

    life = asyncio.ensure_future(run_service(server, load=load, close=close_resources))
    await loaded.wait()
    async with ContentClient(f"127.0.0.1:{server.port}", timeout_s=3) as client:
        for _ in range(200):  # SERVING and the handler installed: never kill the test runner
            if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                break
            await asyncio.sleep(0.01)
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        assert await client.health() == health_pb2.HealthCheckResponse.SERVING
        in_flight = asyncio.ensure_future(client.similar_movies(similar(SLOW, limit=20)))
        await servicer.slow_started.wait()
        os.kill(os.getpid(), signal.SIGTERM)
        assert (await in_flight).model_version == "test-1"  # drained, not cut
        await asyncio.wait_for(life, 5)
        assert closed.is_set()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.health(timeout_s=0.5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
