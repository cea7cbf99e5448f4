"""Every code the gateway puts in an answer is documented in docs/api.md."""

from __future__ import annotations

import re

import grpc
from tests.conftest import ROOT

from kryptonite.gateway.errors import _HTTP_CODES
from kryptonite.gateway.hints import (
    HintCode,
    degraded_reasons,
    downstream_cause,
    row_hint,
)
from kryptonite.gateway.schemas import Strategy


def _documented() -> set[str]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return set(re.findall(r"`([a-z][a-z0-9_]*)`", text))


def test_error_degraded_and_hint_codes_are_documented() -> None:
    codes = {
        *_HTTP_CODES.values(),
        "database_unavailable",
        *degraded_reasons(),
        *(c.value for c in HintCode),
    }
    assert codes - _documented() == set()


def test_every_grpc_failure_maps_to_a_documented_reason() -> None:
    reasons = set(degraded_reasons())
    for service in ("candidates", "ranking", "content"):
        for code in grpc.StatusCode:
            assert downstream_cause(service, code) in reasons, (service, code)
    assert downstream_cause("ranking", grpc.StatusCode.DEADLINE_EXCEEDED) == (
        "ranking_deadline_exceeded"
    )
    assert downstream_cause("content", grpc.StatusCode.INTERNAL) == "content_unavailable"


def test_row_hints() -> None:
    def code(strategy: Strategy, history: bool, items: list, degraded: bool = False):
        found = row_hint(strategy, has_history=history, items=items, degraded=degraded)
        return found.code if found else None

    assert code(Strategy.cf, False, []) == "no_history"
    assert code(Strategy.blend, False, [1]) == "cold_start"
    assert code(Strategy.item2item, True, []) == "no_matches"
    assert code(Strategy.cf, True, [], degraded=True) == "unavailable"
    assert code(Strategy.blend, True, [1]) is None
    assert code(Strategy.popular, False, [1]) is None
    assert code(Strategy.popular, False, [], degraded=True) == "unavailable"
