"""Domain errors and their gRPC status codes: the one mapping every server uses.

Servicers raise these (never ``context.abort`` themselves); the interceptor turns them
into statuses. The gateway maps the codes to HTTP (docs/rpc.md has the table).
"""

from __future__ import annotations

import asyncio

import grpc


class ServiceError(Exception):
    """Base of the errors a servicer raises on purpose; the message goes to the caller."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidArgument(ServiceError):
    """A bad id, limit or parameter in the request."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServiceError):
    """An unknown movie or user the request depends on."""

    code = grpc.StatusCode.NOT_FOUND


class NotReady(ServiceError):
    """No model loaded (yet); the caller should retry elsewhere or fall back."""

    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(ServiceError):
    """The request is too big or the server is overloaded."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


#: Downstream gRPC codes passed on as they are; any other downstream failure is INTERNAL.
_PASSED_ON = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and caller-safe message for an exception raised by a servicer."""
    if isinstance(exc, ServiceError):
        return exc.code, str(exc) or exc.code.name
    if isinstance(exc, grpc.aio.AioRpcError):
        code = exc.code()
        if code in _PASSED_ON:
            return code, f"downstream call failed: {code.name}"
        return grpc.StatusCode.INTERNAL, f"downstream call failed: {code.name}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"
    return grpc.StatusCode.INTERNAL, "internal error"  # never leak details
