"""Accounts, tokens, ownership and the one error shape, over a real socket."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from tests.integration.gateway.conftest import expect, sign_up

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]


def assert_error(reply: httpx.Response, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in reply.text
    return body["error"]


async def test_register_sign_in_me(api: httpx.AsyncClient) -> None:
    user_id, auth = await sign_up(api)
    assert user_id >= 1_000_000_000
    me = await api.get("/auth/me", headers=auth)
    assert me.status_code == 200 and me.json()["user_id"] == user_id
    assert me.headers["x-request-id"]


async def test_duplicate_username_is_409(api: httpx.AsyncClient) -> None:
    # pragma: allowlist nextline secret
    body = {"username": f"dup{time.time_ns()}", "password": "long-enough"}
    assert (await api.post("/auth/register", json=body)).status_code == 201
    assert_error(await api.post("/auth/register", json=body), 409, "conflict")


async def test_wrong_password_and_bad_tokens_are_401(api: httpx.AsyncClient) -> None:
    name = f"pw{time.time_ns()}"
    # pragma: allowlist nextline secret
    await api.post("/auth/register", json={"username": name, "password": "right-password"})
    # pragma: allowlist nextline secret
    bad = await api.post("/auth/token", data={"username": name, "password": "wrong-password"})
    assert_error(bad, 401, "unauthorized")
    assert_error(await api.get("/auth/me"), 401, "unauthorized")
    forged = jwt.encode(
        {"sub": "1", "exp": time.time() + 60}, "not-the-secret-0123456789abcdef0123", "HS256"
    )
    reply = await api.get("/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert_error(reply, 401, "unauthorized")
    none_alg = jwt.encode({"sub": "1", "exp": time.time() + 60}, None, "none")
    reply = await api.get("/auth/me", headers={"Authorization": f"Bearer {none_alg}"})
    assert_error(reply, 401, "unauthorized")
    secret = "test-secret-0123456789abcdef0123456789"  # pragma: allowlist secret
    expired = jwt.encode({"sub": "1", "exp": int(time.time()) - 5}, secret, "HS256")
    reply = await api.get("/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert_error(reply, 401, "unauthorized")


async def test_users_see_only_their_own_data(api: httpx.AsyncClient) -> None:
    alice, alice_auth = await sign_up(api)
    bob, bob_auth = await sign_up(api)
    assert (await api.put("/me/list/1", headers=alice_auth)).status_code == 204
    assert expect(await api.get("/me/list", headers=bob_auth), 200) == []
    reply = await api.get(f"/users/{alice}/recommendations", headers=bob_auth)
    assert_error(reply, 403, "forbidden")
    own = await api.get(f"/users/{bob}/recommendations?strategy=popular", headers=bob_auth)
    assert own.status_code == 200


async def test_validation_errors_name_the_field(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    err = assert_error(
        await api.put("/me/ratings/1", json={"rating": 4.3}, headers=auth), 422, "validation_error"
    )
    assert err["field"] == "rating"
    err = assert_error(
        await api.put("/me/ratings/1", json={"rating": 7}, headers=auth), 422, "validation_error"
    )
    assert err["field"] == "rating"
    err = assert_error(await api.get("/movies?limit=0"), 422, "validation_error")
    assert err["field"] == "limit"
    reply = await api.get("/me/recommendations?strategy=magic", headers=auth)
    assert assert_error(reply, 422, "validation_error")["field"] == "strategy"
    # pragma: allowlist nextline secret
    reply = await api.post("/auth/register", json={"username": "x", "password": "long-enough"})
    assert assert_error(reply, 422, "validation_error")["field"] == "username"
    reply = await api.post(
        "/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert assert_error(reply, 422, "validation_error")["field"] == "body"
    reply = await api.post("/auth/token", data={"password": "x"})
    assert assert_error(reply, 422, "validation_error")["field"] == "username"


async def test_404_405_and_unknown_movie(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/no/such/route"), 404, "not_found")
    assert_error(await api.delete("/movies"), 405, "method_not_allowed")
    assert_error(await api.get("/movies/999999999"), 404, "not_found")
    assert_error(await api.get("/movies/999999999/similar"), 404, "not_found")
    _, auth = await sign_up(api)
    assert_error(await api.put("/me/list/999999999", headers=auth), 404, "not_found")


async def test_unknown_address_is_a_page_for_browsers(api: httpx.AsyncClient) -> None:
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = await api.get("/no/such/page", headers=browser)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address" in page.text
    # an API client asking for JSON still gets the one error shape
    assert_error(
        await api.get("/no/such/page", headers={"accept": "application/json"}), 404, "not_found"
    )


async def test_health_readiness_and_metrics(api: httpx.AsyncClient) -> None:
    assert expect(await api.get("/healthz"), 200) == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert set(ready.json()["checks"].values()) == {"ok"}
    metrics = await api.get("/metrics")
    assert "kryptonite_http_requests_total" in metrics.text
    assert 'route="/readyz"' in metrics.text
