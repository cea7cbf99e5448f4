"""Service-to-service authentication: a signed, expiring service token on every call.

Token: ``v1.<caller>.<expires>.<hmac>``, HMAC-SHA256 under a key derived from
``token_secret`` (domain-separated, so no user bearer token can pass for one, and the
chart's one Secret serves both). Clients attach it as ``x-kryptonite-service-token``
metadata (re-signed before it expires); :class:`ServiceAuthInterceptor` refuses any other
call with UNAUTHENTICATED, except ``grpc.health.v1`` (kubelet's gRPC readiness probe
carries no metadata, and health reveals nothing). Off when ``token_secret`` is unset (a
random per-process key could not be shared: dev and the embedded demo on loopback).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from kryptonite.config import Settings

METADATA_KEY = "x-kryptonite-service-token"
#: Methods open without a token (probes).
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
_DOMAIN = b"kryptonite service token v1"


class ServiceTokens:
    """Signs and verifies service tokens with one key."""

    def __init__(self, secret: str, ttl_s: int = 600) -> None:
        self._key = hmac.new(secret.encode(), _DOMAIN, hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self._cached: dict[str, tuple[str, float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceTokens | None:
        secret = settings.token_secret.get_secret_value()
        return cls(secret) if secret else None

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, caller: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.ttl_s)
        payload = f"v1.{caller}.{expires}"
        return f"{payload}.{self._sign(payload)}"

    def current(self, caller: str) -> str:
        """A token for ``caller``, reused until a fifth of its lifetime is left."""
        token, expires = self._cached.get(caller, ("", 0.0))
        now = time.time()
        if expires - now < self.ttl_s / 5:
            token = self.issue(caller, now)
            self._cached[caller] = (token, now + self.ttl_s)
        return token

    def verify(self, token: str | bytes | None, now: float | None = None) -> str | None:
        """The caller named by a valid, unexpired token; else None."""
        if isinstance(token, bytes):
            token = token.decode("ascii", "replace")
        if not token or len(token) > 256:
            return None
        payload, _, signature = token.rpartition(".")
        parts = payload.split(".")
        if len(parts) != 3 or parts[0] != "v1" or not parts[2].isdigit():
            return None
        if not hmac.compare_digest(self._sign(payload).encode(), signature.encode()):
            return None
        if int(parts[2]) < (time.time() if now is None else now):
            return None
        return parts[1]


def _denied(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same kind as ``handler`` that answers UNAUTHENTICATED."""
    message = f"missing or invalid service token ({METADATA_KEY})"

    async def unary(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def streaming(_requests: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary, **codec)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(unary, **codec)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(streaming, **codec)
    return grpc.stream_stream_rpc_method_handler(streaming, **codec)


class ServiceAuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without a valid service token (health checks excepted)."""

    def __init__(self, tokens: ServiceTokens) -> None:
        self.tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIXES):
            return handler
        token = next((v for k, v in details.invocation_metadata or () if k == METADATA_KEY), None)
        if self.tokens.verify(token) is None:
            return _denied(handler)
        return handler
