"""Typed async clients of the three services, one per owner (no global stubs).

Each call gets a deadline (the client default, capped by the deadline of the call being
served, if any) and carries the current ``x-request-id``. Failures surface as
``grpc.aio.AioRpcError``; the caller decides on fallbacks.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kryptonite.config import Settings
from kryptonite.rpc.generated.v1 import (
    candidates_pb2,
    candidates_pb2_grpc,
    content_pb2,
    content_pb2_grpc,
    ranking_pb2,
    ranking_pb2_grpc,
)
from kryptonite.rpc.service_auth import METADATA_KEY as SERVICE_TOKEN_KEY
from kryptonite.rpc.service_auth import ServiceTokens
from kryptonite.telemetry import REQUEST_ID_HEADER, current_request_id, downstream_timeout

#: Every address the target resolves to gets a connection and calls take turns over them
#: (``round_robin``): with a headless Service (``dns:///name:port``) each pod gets its share,
#: and pods the autoscaler adds are picked up when the servers' ``max_connection_age``
#: makes the channel re-resolve. All our RPCs are idempotent reads: retry UNAVAILABLE (a
#: pod restarting) within the deadline.
_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{"service": "kryptonite.v1"}],
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.02s",
                    "maxBackoff": "0.2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ],
    }
)
#: Reconnect backoff (first, most) of a channel whose server went away: gRPC's defaults,
#: 1 s growing to 120 s, would leave a restarted service unused for up to two minutes.
#: (``grpc.min_reconnect_backoff_ms`` is left alone: gRPC core uses it as the minimum
#: time a connection attempt gets, 20 s; a small value fails handshakes on a busy host.)
RECONNECT_BACKOFF_MS = (200, 2000)


class _Client:
    """A channel to one service; use ``async with`` or :meth:`close`."""

    _addr_field: str = ""

    def __init__(
        self,
        target: str,
        *,
        timeout_s: float = 0.5,
        max_message_bytes: int = 4 * 1024 * 1024,
        reconnect_backoff_ms: tuple[int, int] = RECONNECT_BACKOFF_MS,
        service_tokens: ServiceTokens | None = None,
    ) -> None:
        self.target = target
        self.timeout_s = timeout_s
        self._service_tokens = service_tokens
        first_ms, max_ms = reconnect_backoff_ms
        self.channel = grpc.aio.insecure_channel(
            target,
            options=[
                ("grpc.max_send_message_length", max_message_bytes),
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.enable_retries", 1),
                ("grpc.service_config", _SERVICE_CONFIG),
                ("grpc.initial_reconnect_backoff_ms", first_ms),
                ("grpc.max_reconnect_backoff_ms", max_ms),
            ],
        )
        self._health = health_pb2_grpc.HealthStub(self.channel)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            getattr(settings, cls._addr_field),
            timeout_s=settings.rpc_timeout_s,
            max_message_bytes=settings.rpc_max_message_bytes,
            service_tokens=ServiceTokens.from_settings(settings),
        )

    def _call_options(self, timeout_s: float | None) -> dict[str, Any]:
        metadata: tuple[tuple[str, str], ...] = ((REQUEST_ID_HEADER, current_request_id()),)
        if self._service_tokens is not None:  # rpc/service_auth.py
            metadata += ((SERVICE_TOKEN_KEY, self._service_tokens.current("kryptonite")),)
        return {"timeout": downstream_timeout(timeout_s or self.timeout_s), "metadata": metadata}

    async def health(self, service: str = "", *, timeout_s: float | None = None) -> int:
        """``HealthCheckResponse.ServingStatus`` of the server (or one of its services)."""
        reply = await self._health.Check(
            health_pb2.HealthCheckRequest(service=service), **self._call_options(timeout_s)
        )
        return reply.status

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class CandidatesClient(_Client):
    """Client of ``kryptonite.v1.CandidatesService``."""

    _addr_field = "candidates_addr"

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self._stub = candidates_pb2_grpc.CandidatesServiceStub(self.channel)

    async def get_candidates(
        self, request: candidates_pb2.GetCandidatesRequest, *, timeout_s: float | None = None
    ) -> candidates_pb2.GetCandidatesResponse:
        return await self._stub.GetCandidates(request, **self._call_options(timeout_s))


class RankingClient(_Client):
    """Client of ``kryptonite.v1.RankingService``."""

    _addr_field = "ranking_addr"

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self._stub = ranking_pb2_grpc.RankingServiceStub(self.channel)

    async def rank(
        self, request: ranking_pb2.RankRequest, *, timeout_s: float | None = None
    ) -> ranking_pb2.RankResponse:
        return await self._stub.Rank(request, **self._call_options(timeout_s))


class ContentClient(_Client):
    """Client of ``kryptonite.v1.ContentService``."""

    _addr_field = "content_addr"

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self._stub = content_pb2_grpc.ContentServiceStub(self.channel)

    async def similar_movies(
        self, request: content_pb2.SimilarMoviesRequest, *, timeout_s: float | None = None
    ) -> content_pb2.SimilarMoviesResponse:
        return await self._stub.SimilarMovies(request, **self._call_options(timeout_s))

    async def recommend_for_movies(
        self, request: content_pb2.RecommendForMoviesRequest, *, timeout_s: float | None = None
    ) -> content_pb2.RecommendForMoviesResponse:
        return await self._stub.RecommendForMovies(request, **self._call_options(timeout_s))
