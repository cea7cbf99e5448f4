"""Degraded modes: ranking down, candidates down, content down, Redis down, MySQL down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from tests.integration.gateway.conftest import (
    SCIFI,
    Stack,
    expect,
    free_port,
    serve,
    settings_for,
    sign_up,
)

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]


async def test_ranking_down_serves_candidate_order(stack: Stack) -> None:
    settings = settings_for(stack, ranking_addr=f"127.0.0.1:{free_port()}")
    async with serve(settings) as api:
        _, auth = await sign_up(api)
        expect(await api.put("/me/list/1214", headers=auth), 204)
        body = expect(await api.get("/me/recommendations", headers=auth), 200)
        assert body["degraded"] and body["degraded_reason"] == "ranking_unavailable"
        assert len(body["items"]) == 20 and not body["cached"]
        again = expect(await api.get("/me/recommendations", headers=auth), 200)
        assert not again["cached"]  # degraded lists are not cached
        ready = expect(await api.get("/readyz"), 200)
        assert ready["checks"]["ranking"].startswith("down")


async def test_candidates_down_falls_back_to_content_then_popular(stack: Stack) -> None:
    settings = settings_for(stack, candidates_addr=f"127.0.0.1:{free_port()}")
    async with serve(settings) as api:
        _, auth = await sign_up(api)
        cold = expect(await api.get("/me/recommendations", headers=auth), 200)
        assert cold["degraded"] and cold["degraded_reason"] == "candidates_unavailable"
        assert cold["items"] and all(i["source"] == "popular" for i in cold["items"])
        expect(await api.put("/me/list/1214", headers=auth), 204)
        warm = expect(await api.get("/me/recommendations", headers=auth), 200)
        assert warm["degraded"] and warm["items"]
        assert all(i["source"] == "content" for i in warm["items"])


async def test_content_down_uses_same_genre_popular(stack: Stack, scifi_movies: list[int]) -> None:
    down = f"127.0.0.1:{free_port()}"
    settings = settings_for(stack, content_addr=down, candidates_addr=down)
    async with serve(settings) as api:
        similar = expect(await api.get("/movies/1214/similar", params={"limit": 10}), 200)
        assert similar["degraded"] and len(similar["items"]) == 10
        assert all(SCIFI in i["genres"] or "Horror" in i["genres"] for i in similar["items"])
        _, auth = await sign_up(api)
        for movie in scifi_movies:
            expect(await api.put(f"/me/list/{movie}", headers=auth), 204)
        body = (
            await api.get("/me/recommendations", params={"strategy": "content"}, headers=auth)
        ).json()
        assert body["degraded"] and body["degraded_reason"] == "content_unavailable"
        assert sum(SCIFI in i["genres"] for i in body["items"]) >= 0.7 * len(body["items"])
        assert body["items"][0]["reason"].startswith("Because you added")


async def test_redis_down_computes_live(stack: Stack) -> None:
    settings = settings_for(stack, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with serve(settings) as api:
        _, auth = await sign_up(api)
        assert (await api.put("/me/list/1214", headers=auth)).status_code == 204
        for _ in range(2):
            body = expect(await api.get("/me/recommendations", headers=auth), 200)
            assert len(body["items"]) == 20 and not body["cached"] and not body["degraded"]
        ready = await api.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["cache"].startswith("down")


class TcpProxy:
    """A loopback TCP proxy to MariaDB that the test can cut, like a database outage."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        await self.server.wait_closed()


@pytest_asyncio.fixture(loop_scope="session")
async def proxy() -> AsyncIterator[TcpProxy]:
    running = TcpProxy(3306)
    await running.start()
    yield running
    if running.server and running.server.is_serving():
        await running.cut()


async def test_mysql_down_serves_cached_lists_and_refuses_writes(
    stack: Stack, proxy: TcpProxy
) -> None:
    assert proxy.server is not None
    port = proxy.server.sockets[0].getsockname()[1]
    url = stack.db_url.replace("127.0.0.1:3306", f"127.0.0.1:{port}")
    assert url != stack.db_url
    async with serve(settings_for(stack, database_url=url)) as api:
        _, auth = await sign_up(api)
        expect(await api.put("/me/list/1214", headers=auth), 204)
        before = expect(await api.get("/me/recommendations", headers=auth), 200)
        await proxy.cut()
        cached = await api.get("/me/recommendations", headers=auth)
        assert cached.status_code == 200 and cached.json()["cached"]
        assert cached.json()["items"] == before["items"]
        write = await api.put("/me/list/260", headers=auth)
        assert write.status_code == 503
        error = write.json()["error"]
        assert error["code"] == "database_unavailable"
        assert "may not have been saved" in error["message"]
        popular = await api.get("/me/recommendations?strategy=popular", headers=auth)
        assert popular.status_code == 200 and popular.json()["degraded"]
        ready = await api.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["database"].startswith("down")
