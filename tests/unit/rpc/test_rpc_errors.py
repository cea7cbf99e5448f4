"""The one table from exceptions to gRPC status codes."""

from __future__ import annotations

import grpc
import pytest

from kryptonite.rpc.errors import InvalidArgument, NotFound, NotReady, status_for


def _downstream(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "boom")


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (InvalidArgument("limit must be positive"), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFound("movie 9"), grpc.StatusCode.NOT_FOUND),
        (NotReady("loading"), grpc.StatusCode.UNAVAILABLE),
        (TimeoutError(), grpc.StatusCode.DEADLINE_EXCEEDED),
        (_downstream(grpc.StatusCode.UNAVAILABLE), grpc.StatusCode.UNAVAILABLE),
        (_downstream(grpc.StatusCode.DEADLINE_EXCEEDED), grpc.StatusCode.DEADLINE_EXCEEDED),
        (_downstream(grpc.StatusCode.NOT_FOUND), grpc.StatusCode.INTERNAL),
        (KeyError("secret"), grpc.StatusCode.INTERNAL),
    ],
)
def test_status_for(exc: Exception, code: grpc.StatusCode) -> None:
    assert status_for(exc)[0] == code


def test_messages_are_safe() -> None:
    assert status_for(NotFound("unknown movie 9")) == (
        grpc.StatusCode.NOT_FOUND,
        "unknown movie 9",
    )
    assert "secret" not in status_for(ValueError("secret"))[1]
