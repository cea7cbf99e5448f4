"""Request ids, deadlines for downstream calls and request checks."""

from __future__ import annotations

import time

import pytest

from kryptonite.rpc.errors import InvalidArgument
from kryptonite.rpc.validation import check_id, check_ids, check_limit
from kryptonite.telemetry import (
    clean_request_id,
    current_request_id,
    deadline_var,
    downstream_timeout,
    request_id_var,
)


def test_clean_request_id() -> None:
    assert clean_request_id("abc-123") == "abc-123"
    assert clean_request_id(b"abc") == "abc"
    for bad in (None, "", "has space", "x" * 200):
        assert len(clean_request_id(bad)) == 32


def test_current_request_id() -> None:
    token = request_id_var.set("r1")
    try:
        assert current_request_id() == "r1"
    finally:
        request_id_var.reset(token)
    assert current_request_id() != current_request_id()  # fresh outside a call


def test_downstream_timeout() -> None:
    assert downstream_timeout(0.5) == 0.5
    assert downstream_timeout(0.5, time_remaining=0.2) == 0.2
    assert downstream_timeout(0.5, time_remaining=-1) == 0.001
    token = deadline_var.set(time.monotonic() + 0.1)
    try:
        assert 0 < downstream_timeout(0.5) <= 0.1
    finally:
        deadline_var.reset(token)


def test_checks() -> None:
    assert check_limit(0, default=20, maximum=100) == 20
    assert check_limit(7, default=20, maximum=100) == 7
    assert check_ids([3, 1], field="ids", maximum=5) == [3, 1]
    assert check_id(5, field="movie_id") == 5
    for call in (
        lambda: check_limit(-1, default=20, maximum=100),
        lambda: check_limit(101, default=20, maximum=100),
        lambda: check_ids([1, 0], field="ids", maximum=5),
        lambda: check_ids([1] * 6, field="ids", maximum=5),
        lambda: check_id(0, field="movie_id"),
    ):
        with pytest.raises(InvalidArgument):
            call()
