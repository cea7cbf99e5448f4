"""Regressions of the second adversarial run (issue 14), each against the real stack:
uvicorn on a socket, MariaDB, Redis and the three grpc.aio servers of conftest."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from prometheus_client import CollectorRegistry
from tests.conftest import REDIS_URL
from tests.integration.gateway.conftest import Candidates, Stack, serve, settings_for, sign_up

from kryptonite.rpc.generated.v1 import candidates_pb2, candidates_pb2_grpc
from kryptonite.rpc.metrics import RpcMetrics
from kryptonite.rpc.server import RpcServer, service_def
from kryptonite.store.cache import MemoryCache, RedisCache

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


# ------------------------------------------------------------------ 8: revocable sessions
PASSWORD = "pw-secret-1"  # pragma: allowlist secret


def _browser(api: httpx.AsyncClient, token: str) -> httpx.AsyncClient:
    cookies = {"kr_csrf": "csrf-t", "kr_session": token}
    return httpx.AsyncClient(base_url=api.base_url, cookies=cookies, timeout=10)


async def test_api_signout_revokes_the_token(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    assert (await api.get("/me/list", headers=auth)).status_code == 200
    assert (await api.post("/auth/signout", headers=auth)).status_code == 204
    reply = await api.get("/me/list", headers=auth)
    assert reply.status_code == 401, reply.text


async def test_web_signout_revokes_the_session_cookie(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    token = auth["Authorization"].removeprefix("Bearer ")
    async with _browser(api, token) as browser:
        assert (await browser.get("/my-list")).status_code == 200
        out = await browser.post("/signout", data={"csrf": "csrf-t"})
        assert out.status_code == 303
    async with _browser(api, token) as copy:  # the cookie as it was before sign-out
        page = await copy.get("/my-list")
        assert page.status_code == 303 and page.headers["location"].startswith("/signin")
    assert (await api.get("/me/list", headers=auth)).status_code == 401


async def test_signout_reaches_every_replica(stack: Stack) -> None:
    settings = settings_for(stack, revocation_poll_s=0.1)
    async with serve(settings) as one, serve(settings) as two:
        _, auth = await sign_up(one)
        assert (await two.get("/me/list", headers=auth)).status_code == 200
        assert (await one.post("/auth/signout", headers=auth)).status_code == 204
        deadline = time.monotonic() + 5
        while (await two.get("/me/list", headers=auth)).status_code == 200:
            assert time.monotonic() < deadline, "replica two still accepts a signed-out token"
            await asyncio.sleep(0.05)
        assert (await two.get("/me/list", headers=auth)).status_code == 401


async def test_password_change_revokes_every_session(api: httpx.AsyncClient) -> None:
    name = f"pw{uuid.uuid4().hex[:10]}"
    await api.post("/auth/register", json={"username": name, "password": PASSWORD})
    tokens = []
    for _ in range(2):
        reply = await api.post("/auth/token", data={"username": name, "password": PASSWORD})
        tokens.append({"Authorization": f"Bearer {reply.json()['access_token']}"})
    wrong = await api.put(
        "/auth/password",
        # pragma: allowlist nextline secret
        json={"current_password": "not-it-at-all", "new_password": "new-secret-2"},
        headers=tokens[0],
    )
    assert wrong.status_code == 403
    changed = await api.put(
        "/auth/password",
        # pragma: allowlist nextline secret
        json={"current_password": PASSWORD, "new_password": "new-secret-2"},
        headers=tokens[0],
    )
    assert changed.status_code == 204, changed.text
    for auth in tokens:
        assert (await api.get("/me/list", headers=auth)).status_code == 401
    old = await api.post("/auth/token", data={"username": name, "password": PASSWORD})
    assert old.status_code == 401
    # pragma: allowlist nextline secret
    new = await api.post("/auth/token", data={"username": name, "password": "new-secret-2"})
    assert new.status_code == 200
    fresh = {"Authorization": f"Bearer {new.json()['access_token']}"}
    assert (await api.get("/me/list", headers=fresh)).status_code == 200


# ------------------------------------------------------------------ 2: canonical usernames
async def test_case_variants_are_one_account(api: httpx.AsyncClient) -> None:
    name = f"PixarFan{uuid.uuid4().hex[:6]}"
    first = await api.post("/auth/register", json={"username": name, "password": PASSWORD})
    assert first.status_code == 201
    again = await api.post("/auth/register", json={"username": name.lower(), "password": PASSWORD})
    assert again.status_code == 409
    upper = await api.post("/auth/token", data={"username": name.upper(), "password": PASSWORD})
    assert upper.status_code == 200
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)  # fullwidth
    assert (
        await api.post("/auth/token", data={"username": wide, "password": PASSWORD})
    ).status_code == 200


async def test_accented_spellings_neither_sign_in_nor_bypass_the_limiter(stack: Stack) -> None:
    limits = {"login_max_failures": 3, "login_max_failures_per_user": 6, "login_window_s": 60}
    async with serve(settings_for(stack, **limits)) as client:
        name = f"alice_{uuid.uuid4().hex[:6]}"
        await client.post("/auth/register", json={"username": name, "password": PASSWORD})
        accented = name.replace("e", "é", 1)
        # The right password under an accented spelling is another (missing) account.
        reply = await client.post("/auth/token", data={"username": accented, "password": PASSWORD})
        assert reply.status_code == 401
        # Case/width variants are the same account, so they share its counters.
        variants = [name.upper(), name.title(), f" {name} ", name.swapcase()]
        codes = []
        for spelling in variants:
            for _ in range(3):
                r = await client.post(
                    "/auth/token",
                    # pragma: allowlist nextline secret
                    data={"username": spelling, "password": "bad-guess"},
                )
                codes.append(r.status_code)
        assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}, codes


# ------------------------------------------------------------------ 3: X-Forwarded-For
async def test_client_ip_is_the_right_most_untrusted_hop(stack: Stack) -> None:
    """Behind a trusted proxy (loopback) that appends the peer, a client writing its own
    left-most X-Forwarded-For entries still counts as the one address the proxy saw."""
    from kryptonite.gateway.main import server

    limits = {"login_max_failures": 3, "login_max_failures_per_ip": 5, "login_window_s": 60}
    settings = settings_for(stack, forwarded_allow_ips="127.0.0.0/8", **limits)
    gateway = server(settings, host="127.0.0.1", port=0)
    gateway.config.log_level = "warning"
    task = asyncio.create_task(gateway.serve())
    while not gateway.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = gateway.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            codes = []
            for i in range(8):  # a new forged left-most hop and username each time
                forged = f"198.51.100.{i}, 203.0.113.7"  # the proxy appended 203.0.113.7
                reply = await client.post(
                    "/auth/token",
                    # pragma: allowlist nextline secret
                    data={"username": f"nobody{i}x", "password": "guess"},
                    headers={"X-Forwarded-For": forged},
                )
                codes.append(reply.status_code)
            assert codes == [401] * 5 + [429] * 3, codes
            other = await client.post(
                "/auth/token",
                data={"username": "nobody0x", "password": "guess"},  # pragma: allowlist secret
                headers={"X-Forwarded-For": "203.0.113.8"},
            )
            assert other.status_code == 401  # another client is not locked out
    finally:
        gateway.should_exit = True
        await task


# ------------------------------------------------------------------ 4: stale cache fills
@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest):
    if request.param == "memory":
        yield MemoryCache()
        return
    backend = RedisCache(REDIS_URL, prefix=f"test-{uuid.uuid4().hex[:8]}")
    yield backend
    for key in [f"{backend.prefix}:recs:7", f"{backend.prefix}:gen:7"]:
        await backend.client.delete(key)
    await backend.close()


async def test_a_fill_older_than_an_invalidation_is_refused(cache) -> None:
    value, generation = await cache.lookup(7, "blend:v1")
    assert value is None
    await cache.invalidate(7)  # a write commits while the list is being computed
    await cache.put_many({7: {"blend:v1": b"stale"}}, 60, {7: generation})
    assert await cache.get(7, "blend:v1") is None
    _, current = await cache.lookup(7, "blend:v1")
    assert current != generation
    await cache.put(7, "blend:v1", b"fresh", 60, generation=current)
    assert await cache.get(7, "blend:v1") == b"fresh"


class GatedCandidates(Candidates):
    """Candidates that hold each call until ``gate`` opens (a slow computation)."""

    def __init__(self, catalog) -> None:
        super().__init__(catalog)
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def GetCandidates(self, request, context):
        self.entered.set()
        await self.gate.wait()
        return await super().GetCandidates(request, context)


async def test_a_list_add_during_a_computation_is_not_undone_by_its_cache_fill(
    stack: Stack, scifi_movies: list[int]
) -> None:
    gated = GatedCandidates(stack.catalog)
    svc = service_def(gated, candidates_pb2_grpc, candidates_pb2, "CandidatesService")
    server = RpcServer([svc], port=0, metrics=RpcMetrics(CollectorRegistry()), metrics_port=None)
    port = await server.start()
    await server.set_serving()
    settings = settings_for(stack, candidates_addr=f"127.0.0.1:{port}", rpc_timeout_s=5.0)
    try:
        async with serve(settings) as client:
            _, auth = await sign_up(client)
            await client.put(f"/me/list/{scifi_movies[0]}", headers=auth)
            computing = asyncio.create_task(client.get("/me/recommendations", headers=auth))
            await asyncio.wait_for(gated.entered.wait(), 5)
            added = scifi_movies[1]
            assert (await client.put(f"/me/list/{added}", headers=auth)).status_code == 204
            gated.gate.set()
            first = await computing
            assert first.status_code == 200 and first.json()["cached"] is False
            again = (await client.get("/me/recommendations", headers=auth)).json()
            assert again["cached"] is False, "a list computed before the add was cached after it"
            assert added not in [i["movie_id"] for i in again["items"]]
    finally:
        await server.stop(0)


# ------------------------------------------------------------------ 10: ports, readiness
def _candidates_server(stack: Stack, **kwargs) -> RpcServer:
    svc = service_def(
        Candidates(stack.catalog), candidates_pb2_grpc, candidates_pb2, "CandidatesService"
    )
    return RpcServer([svc], metrics=RpcMetrics(CollectorRegistry()), **kwargs)


async def test_readyz_is_not_ready_while_services_are_not_serving(stack: Stack) -> None:
    loading = {name: _candidates_server(stack, port=0) for name in ("candidates", "content")}
    addrs = {f"{n}_addr": f"127.0.0.1:{await s.start()}" for n, s in loading.items()}
    try:  # started, never set_serving: health says NOT_SERVING (models still loading)
        async with serve(settings_for(stack, **addrs)) as client:
            ready = await client.get("/readyz")
            body = ready.json()
            assert body["checks"]["candidates"] == "not_serving"
            assert body["checks"]["content"] == "not_serving"
            assert body["status"] == "degraded", body
            for server in loading.values():
                await server.set_serving()
            assert (await client.get("/readyz")).json()["status"] == "ready"
    finally:
        for server in loading.values():
            await server.stop(0)


async def test_metrics_ports_are_settings_and_a_taken_one_is_survived(stack: Stack) -> None:
    import socket

    from kryptonite.rpc.clients import CandidatesClient

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        settings = settings_for(stack, candidates_port=0, candidates_metrics_port=port)
        svc = service_def(
            Candidates(stack.catalog), candidates_pb2_grpc, candidates_pb2, "CandidatesService"
        )
        server = RpcServer.from_settings(
            "candidates", [svc], settings, metrics=RpcMetrics(CollectorRegistry())
        )
        grpc_port = await server.start()  # the metrics port is in use: logged, not fatal
        await server.set_serving()
        assert server.metrics_port is None
        client = CandidatesClient(f"127.0.0.1:{grpc_port}", timeout_s=2.0)
        assert await client.health() == 1  # SERVING
        await client.close()
        await server.stop(0)
        free = RpcServer.from_settings(
            "candidates",
            [svc],
            settings_for(stack, candidates_port=0, candidates_metrics_port=0),
            metrics=RpcMetrics(CollectorRegistry()),
        )
        await free.start()
        assert free.metrics_port and free.metrics_port != port
        async with httpx.AsyncClient() as http:
            metrics = await http.get(f"http://127.0.0.1:{free.metrics_port}/metrics")
        assert metrics.status_code == 200
        await free.stop(0)
    finally:
        taken.close()


# ------------------------------------------------------------------ 7: no cut-off response
class FreezingProxy:
    """A loopback TCP proxy to MariaDB that, once armed, freezes a connection (holds every
    byte both ways, socket open) as soon as the client sends ``ROLLBACK``: the database
    hanging exactly while a connection is being released to the pool."""

    def __init__(self, target: int = 3306) -> None:
        self.target = target
        self.armed = False
        self.frozen = 0
        self.thaw = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        hold = asyncio.Event()

        async def pipe(src, dst, upstream: bool) -> None:
            try:
                while data := await src.read(65536):
                    if upstream and self.armed and b"ROLLBACK" in data.upper():
                        self.frozen += 1
                        hold.set()
                    if hold.is_set():
                        await self.thaw.wait()
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    async def close(self) -> None:
        self.thaw.set()
        if self.server is not None:
            self.server.close()


async def test_a_database_hang_during_release_never_cuts_the_response(stack: Stack) -> None:
    proxy = FreezingProxy()
    port = await proxy.start()
    url = stack.db_url.replace("127.0.0.1:3306", f"127.0.0.1:{port}")
    try:
        async with serve(settings_for(stack, database_url=url, db_timeout_s=1.0)) as client:
            try:
                _, auth = await sign_up(client)
                assert (await client.put("/me/list/1", headers=auth)).status_code == 204
                proxy.armed = True
                started = time.monotonic()
                # The read's connection release hangs.
                reply = await asyncio.wait_for(client.get("/me/list", headers=auth), 8)
                assert reply.status_code == 200, reply.text
                assert [i["movie_id"] for i in reply.json()] == [1]
                assert proxy.frozen >= 1
                assert time.monotonic() - started < 5
                # A commit, then a hung release: acknowledged, and kept.
                write = await asyncio.wait_for(client.put("/me/list/2", headers=auth), 8)
                assert write.status_code == 204, write.text
            finally:
                proxy.armed = False
                proxy.thaw.set()
            listed = await client.get("/me/list", headers=auth)
            assert sorted(i["movie_id"] for i in listed.json()) == [1, 2]
    finally:
        await proxy.close()


# ------------------------------------------------------------------ 9: internal endpoints
@pytest.mark.parametrize("path", ["/metrics", "/readyz"])
async def test_internal_endpoints_refuse_proxied_requests(
    api: httpx.AsyncClient, path: str
) -> None:
    assert (await api.get(path)).status_code == 200  # kubelet, Prometheus: direct
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}):
        reply = await api.get(path, headers=header)
        assert reply.status_code == 404, (header, reply.text)


async def test_gateway_calls_services_that_require_the_token(stack: Stack) -> None:
    """Services with the interceptor on (the key from the shared token secret): the
    gateway's clients sign their calls, an unsigned caller is refused."""
    import grpc

    from kryptonite.rpc.service_auth import ServiceTokens

    settings = settings_for(stack)
    tokens = ServiceTokens.from_settings(settings)
    servers = {}
    for name in ("candidates", "ranking", "content"):
        original = stack.servers[name].services
        server = RpcServer(
            original, port=0, metrics=RpcMetrics(CollectorRegistry()), service_tokens=tokens
        )
        servers[name] = (server, await server.start())
        await server.set_serving()
    addrs = {f"{n}_addr": f"127.0.0.1:{p}" for n, (_, p) in servers.items()}
    try:
        async with serve(settings_for(stack, **addrs)) as client:
            _, auth = await sign_up(client)
            await client.put("/me/list/1", headers=auth)
            body = (await client.get("/me/recommendations", headers=auth)).json()
            assert not body["degraded"], body
        async with grpc.aio.insecure_channel(addrs["candidates_addr"]) as channel:
            stub = candidates_pb2_grpc.CandidatesServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.GetCandidates(candidates_pb2.GetCandidatesRequest(limit=5), timeout=5)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        for server, _ in servers.values():
            await server.stop(0)
