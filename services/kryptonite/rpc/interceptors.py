"""The one server interceptor: request id, deadline, logging, metrics, error mapping."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from kryptonite.rpc.errors import InvalidArgument, status_for
from kryptonite.rpc.metrics import RpcMetrics, default_metrics, split_method
from kryptonite.telemetry import (
    REQUEST_ID_HEADER,
    clean_request_id,
    deadline_var,
    request_id_var,
)

log = logging.getLogger("kryptonite.rpc")

#: Infrastructure methods logged at DEBUG (probes would flood the log at INFO).
_QUIET_PREFIXES = ("/grpc.health.", "/grpc.reflection.")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class _Undecodable:
    """Stands in for a request whose bytes did not parse (see :func:`_tolerant`)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """``deserialize`` that returns :class:`_Undecodable` instead of raising: grpc itself
    would answer UNKNOWN, log a traceback and bypass the interceptor; this way the call is
    INVALID_ARGUMENT, logged and counted like any other."""
    if deserialize is None:
        return None

    def tolerant(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception as exc:
            return _Undecodable(exc)

    return tolerant


def _metadata_value(metadata: Sequence[tuple[str, Any]] | None, key: str) -> Any:
    for k, v in metadata or ():
        if k == key:
            return v
    return None


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Wraps unary-response handlers; streaming ones (health Watch, reflection) pass through.

    For each call: takes ``x-request-id`` from metadata (or makes one) into a contextvar
    and echoes it in trailing metadata, records the deadline for downstream calls, maps
    exceptions to status codes (:func:`kryptonite.rpc.errors.status_for`), logs one line
    and records latency and the final code. A unary request that does not parse is
    INVALID_ARGUMENT (never reaches the servicer).
    """

    def __init__(self, metrics: RpcMetrics | None = None) -> None:
        self._metrics = metrics or default_metrics()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        request_id = clean_request_id(
            _metadata_value(handler_call_details.invocation_metadata, REQUEST_ID_HEADER)
        )
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            wrapped = self._wrap(handler.unary_unary, method, request_id)
            kwargs["request_deserializer"] = _tolerant(handler.request_deserializer)
            return grpc.unary_unary_rpc_method_handler(wrapped, **kwargs)
        if handler.stream_unary:
            wrapped = self._wrap(handler.stream_unary, method, request_id)
            return grpc.stream_unary_rpc_method_handler(wrapped, **kwargs)
        return handler

    def _wrap(self, behavior: Behavior, method: str, request_id: str) -> Behavior:
        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await self._handle(behavior, method, request_id, request, context)

        return wrapped

    async def _handle(
        self,
        behavior: Behavior,
        method: str,
        request_id: str,
        request: Any,
        context: grpc.aio.ServicerContext,
    ) -> Any:
        in_flight = self._metrics.in_flight.labels(split_method(method)[0])
        in_flight.inc()
        start = time.monotonic()
        remaining = context.time_remaining()
        rid_token = request_id_var.set(request_id)
        deadline_token = deadline_var.set(None if remaining is None else start + remaining)
        trailer = ((REQUEST_ID_HEADER, request_id),)
        done = False

        def finish(code: grpc.StatusCode) -> None:
            nonlocal done
            if not done:  # recorded before any status goes out, so callers see it counted
                done = True
                in_flight.dec()
                self._record(method, request_id, code, time.monotonic() - start)

        try:
            if isinstance(request, _Undecodable):
                raise InvalidArgument(
                    f"request is not a valid protobuf message ({type(request.error).__name__})"
                )
            result = behavior(request, context)
            if asyncio.iscoroutine(result):
                result = await result
            context.set_trailing_metadata(trailer)
            finish(context.code() or grpc.StatusCode.OK)
            return result
        except grpc.aio.AbortError:  # the servicer called context.abort itself
            finish(context.code() or grpc.StatusCode.UNKNOWN)
            raise
        except asyncio.CancelledError:  # deadline passed or the client went away
            expired = remaining is not None and time.monotonic() - start >= remaining
            finish(grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED)
            raise
        except Exception as exc:
            code, message = status_for(exc)
            if code is grpc.StatusCode.INTERNAL:
                log.exception("unhandled error in %s", method, extra={"request_id": request_id})
            finish(code)
            await context.abort(code, message, trailing_metadata=trailer)
        finally:
            finish(grpc.StatusCode.UNKNOWN)  # no-op unless something above failed
            request_id_var.reset(rid_token)
            deadline_var.reset(deadline_token)

    def _record(self, method: str, request_id: str, code: grpc.StatusCode, elapsed: float) -> None:
        self._metrics.observe(method, code.name, elapsed)
        log.log(
            logging.DEBUG if method.startswith(_QUIET_PREFIXES) else logging.INFO,
            "rpc %s %s %.1fms",
            method,
            code.name,
            elapsed * 1000,
            extra={
                "request_id": request_id,
                "rpc_method": method,
                "grpc_code": code.name,
                "duration_ms": round(elapsed * 1000, 3),
            },
        )
