"""A brand-new user's rows say why they are empty or generic and what to do."""

from __future__ import annotations

import httpx
import pytest
from tests.integration.gateway.conftest import expect, sign_up

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]


async def _row(api: httpx.AsyncClient, auth: dict, strategy: str) -> dict:
    return expect(
        await api.get(
            "/me/recommendations", params={"strategy": strategy, "limit": 10}, headers=auth
        ),
        200,
    )


async def test_new_users_rows_explain_themselves(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    empty = await _row(api, auth, "item2item")
    assert empty["items"] == [] and not empty["degraded"]
    assert empty["hint"]["code"] == "no_history"
    assert "Rate" in empty["hint"]["action"] and empty["hint"]["message"]
    generic = await _row(api, auth, "blend")
    assert generic["items"] and generic["hint"]["code"] == "cold_start"
    assert (await _row(api, auth, "popular"))["hint"] is None
    cached = await _row(api, auth, "item2item")
    assert cached["cached"] and cached["hint"] == empty["hint"]

    expect(await api.put("/me/ratings/1214", json={"rating": 5}, headers=auth), 200)
    blend = await _row(api, auth, "blend")
    assert blend["items"] and blend["hint"] is None
    similar = await _row(api, auth, "item2item")
    assert similar["items"] and similar["hint"] is None
