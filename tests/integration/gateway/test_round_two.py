"""Regressions of the second adversarial run (issue 14), each against the real stack:
uvicorn on a socket, MariaDB, Redis and the three grpc.aio servers of conftest."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from tests.integration.gateway.conftest import Stack, serve, settings_for, sign_up

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]

LIMIT = 64 * 1024


# ------------------------------------------------------------------ 1: body limit
def _port(client: httpx.AsyncClient) -> int:
    return int(str(client.base_url).rstrip("/").rsplit(":", 1)[1])


async def _raw_request(port: int, head: bytes, body: bytes) -> bytes:
    """Send ``head`` and the start of ``body`` on a raw socket; the reply's first bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    return reply


async def test_oversized_body_is_refused_before_reading_or_auth(api: httpx.AsyncClient) -> None:
    size = 120 * 1024 * 1024
    head = (
        f"PUT /me/ratings/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    reply = await _raw_request(_port(api), head, b'{"rating": ' + b" " * 1024)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"payload_too_large" in reply
    assert time.monotonic() - started < 2
    assert (await api.get("/healthz")).status_code == 200


async def test_chunked_body_is_cut_off_while_streaming(api: httpx.AsyncClient) -> None:
    """Chunked, no length: answered once the cap is crossed, the body never finished."""
    head = (
        b"PUT /me/ratings/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n" % 32768 + b" " * 32768 + b"\r\n"
    reply = await _raw_request(_port(api), head, chunk * 3)  # 96 KiB, no final chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"payload_too_large" in reply


@pytest.mark.parametrize("path", ["/signin", "/signup", "/auth/token", "/auth/register"])
async def test_every_route_and_web_form_is_capped(api: httpx.AsyncClient, path: str) -> None:
    body = "username=" + "a" * (LIMIT + 10)
    reply = await api.post(
        path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"]["code"] == "payload_too_large"


# ------------------------------------------------------------------ 5, 6: concurrent writes
async def test_parallel_identical_ratings_all_answer_their_value(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    for movie in range(1, 11):
        replies = await asyncio.gather(
            *(api.put(f"/me/ratings/{movie}", json={"rating": 4.0}, headers=auth) for _ in range(8))
        )
        assert [r.status_code for r in replies] == [200] * 8, [r.text for r in replies]
        assert {r.json()["rating"] for r in replies} == {4.0}


async def test_parallel_conflicting_ratings_answer_their_own_value(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    values = [0.5 * (i + 1) for i in range(8)]
    for movie in (1, 2, 3, 6, 10):
        replies = await asyncio.gather(
            *(api.put(f"/me/ratings/{movie}", json={"rating": v}, headers=auth) for v in values)
        )
        assert [r.status_code for r in replies] == [200] * 8, [r.text for r in replies]
        assert [r.json()["rating"] for r in replies] == values
        stored = {
            r["movie_id"]: r["rating"] for r in (await api.get("/me/ratings", headers=auth)).json()
        }
        assert stored[movie] in values


async def test_concurrent_add_remove_is_never_an_outage(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    for _ in range(3):
        calls = [
            api.put("/me/list/1", headers=auth)
            if i % 2 == 0
            else api.delete("/me/list/1", headers=auth)
            for i in range(20)
        ]
        replies = await asyncio.gather(*calls)
        assert all(r.status_code in (204, 404) for r in replies), [
            (r.status_code, r.text) for r in replies if r.status_code not in (204, 404)
        ]
