"""Security of the gateway over a real socket: tokens, password storage, sign-in rate
limiting (Redis-shared, in-process fallback), CORS and security headers, and that one
user can never read or change another's data through any route (API and web pages)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace

import httpx
import jwt
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.routing import APIRoute
from sqlalchemy import select
from tests.integration.gateway.conftest import Stack, free_port, serve, settings_for, sign_up

from kryptonite.config import Settings
from kryptonite.gateway import security
from kryptonite.gateway.app import create_app
from kryptonite.gateway.deps import get_current_user
from kryptonite.gateway.headers import API_CSP, CSP
from kryptonite.gateway.ratelimit import LoginLimiter, MemoryCounters, client_network
from kryptonite.gateway.web.session import require_user
from kryptonite.store.cache import MemoryCache
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.tables import rating_explicit, rating_implicit, user_movielist, users

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.redis,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),  # HS384/512
]

PASSWORD, WRONG = "pw-secret-1", "wrong-password"  # pragma: allowlist secret
ORIGIN = "https://app.example"
LIMITS = {
    "login_max_failures": 3,
    "login_max_failures_per_ip": 8,
    "login_max_failures_per_user": 6,
    "login_window_s": 120,
}
_ips = itertools.count(1)


def new_ip() -> str:
    """A client address of its own (sent as X-Forwarded-For; uvicorn trusts loopback)."""
    n = next(_ips) + uuid.uuid4().int % 10_000 * 1000
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def assert_error(reply: httpx.Response, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def secret_of(stack: Stack) -> str:
    return settings_for(stack).token_secret.get_secret_value()


def bearer(token: str) -> dict[str, bytes]:
    return {"Authorization": f"Bearer {token}".encode()}


def token_of(auth: dict[str, str]) -> str:
    return auth["Authorization"].removeprefix("Bearer ")


def web(
    api: httpx.AsyncClient, token: str | None = None, csrf: str = "csrf-t"
) -> httpx.AsyncClient:
    """A browser of its own: session cookie (the API token) and a CSRF cookie."""
    cookies = {"kr_csrf": csrf} | ({"kr_session": token} if token else {})
    return httpx.AsyncClient(base_url=api.base_url, cookies=cookies, timeout=10)


# ---------------------------------------------------------------- tokens
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(header: dict, claims: dict, key: bytes = b"", digest: Callable | None = None) -> str:
    """A JWT assembled by hand (any header; HMAC signature with ``digest`` or none)."""
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    sig = hmac.new(key, head.encode(), digest).digest() if digest else b""
    return f"{head}.{_b64(sig)}"


def tampered(token: str, **changes: object) -> str:
    """``token`` with claims changed and the original signature kept."""
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{head}.{_b64(json.dumps(claims | changes).encode())}.{sig}"


def bad_tokens(secret: str, user_id: int, victim: int, good: str) -> dict[str, str]:
    """Every way a token must be refused, by name."""
    key = secret.encode()
    now = int(time.time())
    ok = {"sub": str(user_id), "exp": now + 600}
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    hs256 = {"alg": "HS256", "typ": "JWT"}
    return {
        "forged signature": jwt.encode(ok, "another-key-0123456789abcdef0123456789", "HS256"),
        "tampered payload": tampered(good, sub=str(victim)),
        "tampered expiry": tampered(good, exp=now + 10**6),
        "expired": jwt.encode({**ok, "exp": now - 5}, secret, "HS256"),
        "alg none": craft({"alg": "none", "typ": "JWT"}, ok),
        "alg none, signed": craft({"alg": "none"}, ok, key, hashlib.sha256),
        "alg None (case)": craft({"alg": "None"}, ok),
        "HS512 same key": jwt.encode(ok, secret, "HS512"),
        "HS384 same key": jwt.encode(ok, secret, "HS384"),
        "RS256 (own key pair)": jwt.encode(ok, rsa_key, "RS256"),
        "RS256 header, HMAC signed": craft({"alg": "RS256", "typ": "JWT"}, ok, key, hashlib.sha256),
        "missing exp": jwt.encode({"sub": str(user_id)}, secret, "HS256"),
        "missing sub": jwt.encode({"exp": now + 600}, secret, "HS256"),
        "sub not a number": jwt.encode({**ok, "sub": "admin"}, secret, "HS256"),
        "exp not a number": craft(hs256, {**ok, "exp": "tomorrow"}, key, hashlib.sha256),
        "not yet valid (nbf)": jwt.encode({**ok, "nbf": now + 3600}, secret, "HS256"),
        "signature stripped": good.rsplit(".", 1)[0] + ".",
        "two parts": good.rsplit(".", 1)[0],
        "garbage": "garbage",
        "dots": "a.b.c",
        "huge": "x" * 8000,
        "non-ascii": "tökén.ä.ö",
    }


async def test_bad_tokens_are_401_everywhere(api: httpx.AsyncClient, stack: Stack) -> None:
    user_id, auth = await sign_up(api)
    victim, _ = await sign_up(api)
    assert (await api.get("/auth/me", headers=auth)).status_code == 200  # memoized now
    for name, token in bad_tokens(secret_of(stack), user_id, victim, token_of(auth)).items():
        for path in ("/auth/me", "/me/list", "/me/recommendations"):
            reply = await api.get(path, headers=bearer(token))
            assert_error(reply, 401, "unauthorized")
            assert reply.headers["www-authenticate"] == "Bearer", (name, path)
        if not token.isascii():
            continue  # not a valid cookie value
        async with web(api, token) as browser:
            page = await browser.get("/my-list")
            assert page.status_code == 303 and page.headers["location"].startswith("/signin"), name
    for header in ("Bearer", "Bearer .", "Basic dXNlcjpwdw==", token_of(auth)):
        reply = await api.get("/auth/me", headers={"Authorization": header})
        assert_error(reply, 401, "unauthorized")


async def test_expiry_is_honoured_for_a_memoized_token(
    api: httpx.AsyncClient, stack: Stack
) -> None:
    user_id, _ = await sign_up(api)
    exp = int(time.time()) + 2
    token = jwt.encode({"sub": str(user_id), "exp": exp}, secret_of(stack), "HS256")
    assert (await api.get("/auth/me", headers=bearer(token))).status_code == 200
    assert (await api.get("/auth/me", headers=bearer(token))).status_code == 200  # memo hit
    await asyncio.sleep(max(0.0, exp - time.time()) + 0.1)
    assert_error(await api.get("/auth/me", headers=bearer(token)), 401, "unauthorized")


async def test_token_memo_checks_expiry_with_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(security, "time", SimpleNamespace(time=lambda: now[0]))
    monkeypatch.setattr(jwt.api_jwt, "datetime", _frozen_datetime(now))
    tokens = security.Tokens("k" * 40, ttl_s=60)
    token = tokens.issue(7, "seven")
    assert tokens.check(token) == security.TokenUser(7, "seven")
    now[0] += 59
    assert tokens.check(token) is not None  # from the memo
    now[0] += 2
    assert tokens.check(token) is None  # memoized, yet expired
    assert tokens.check(token) is None  # and dropped from the memo


def _frozen_datetime(now: list[float]):
    """PyJWT's clock (``datetime.now``) following ``now`` too."""
    from datetime import UTC, datetime, tzinfo

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:
            return datetime.fromtimestamp(now[0], tz or UTC)

    return Frozen


async def test_passwords_are_stored_as_argon2_hashes(api: httpx.AsyncClient, stack: Stack) -> None:
    api_name, web_name = f"hash{uuid.uuid4().hex[:8]}", f"webhash{uuid.uuid4().hex[:8]}"
    api_pw, web_pw = "api-plain-" + uuid.uuid4().hex, "web-plain-" + uuid.uuid4().hex
    reply = await api.post("/auth/register", json={"username": api_name, "password": api_pw})
    assert reply.status_code == 201
    async with web(api) as browser:
        form = {"username": web_name, "password": web_pw, "csrf": "csrf-t"}
        assert (await browser.post("/signup", data=form)).status_code == 303
    engine = create_sync_engine(stack.db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(users).where(users.c.username.in_([api_name, web_name])))
        stored = {r.username: r._asdict() for r in rows}
    engine.dispose()
    for name, password in ((api_name, api_pw), (web_name, web_pw)):
        row = stored[name]
        assert row["password_hash"].startswith("$argon2id$")
        assert not any(password in str(v) for v in row.values())
        assert PasswordHasher().verify(row["password_hash"], password)


# ---------------------------------------------------------------- sign-in limits
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def hardened(stack: Stack) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    """A gateway with small sign-in limits and one CORS origin."""
    settings = settings_for(stack, **LIMITS, cors_origins=[ORIGIN])
    async with serve(settings) as client:
        yield client, settings


async def register(client: httpx.AsyncClient) -> str:
    name = f"rl{uuid.uuid4().hex[:10]}"
    reply = await client.post("/auth/register", json={"username": name, "password": PASSWORD})
    assert reply.status_code == 201, reply.text
    return name


async def sign_in(
    client: httpx.AsyncClient, name: str, ip: str, password: str = PASSWORD
) -> httpx.Response:
    form = {"username": name, "password": password}
    return await client.post("/auth/token", data=form, headers={"X-Forwarded-For": ip})


async def fail(client: httpx.AsyncClient, name: str, ip: str, times: int) -> None:
    for _ in range(times):
        assert (await sign_in(client, name, ip, WRONG)).status_code == 401


def assert_limited(reply: httpx.Response, window_s: int) -> None:
    err = assert_error(reply, 429, "too_many_requests")
    assert "too many failed sign-in attempts" in err["message"]
    assert 0 < int(reply.headers["retry-after"]) <= window_s


async def test_failures_lock_the_username_from_that_address_only(
    hardened: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, settings = hardened
    name, ip = await register(client), new_ip()
    await fail(client, name, ip, 3)
    assert_limited(await sign_in(client, name, ip), settings.login_window_s)  # right pw too
    async with web(client) as browser:  # the web form shares the counters
        form = {"username": name, "password": PASSWORD, "csrf": "csrf-t"}
        page = await browser.post("/signin", data=form, headers={"X-Forwarded-For": ip})
        assert page.status_code == 429 and "kr_session" not in page.cookies
        assert 0 < int(page.headers["retry-after"]) <= settings.login_window_s
        assert "Too many failed sign-in attempts" in page.text
    assert (await sign_in(client, name, new_ip())).status_code == 200  # no lock-out elsewhere
    other = await register(client)
    assert (await sign_in(client, other, ip)).status_code == 200  # others at that address


async def test_web_form_failures_count_too(hardened: tuple[httpx.AsyncClient, Settings]) -> None:
    client, settings = hardened
    name, ip = await register(client), new_ip()
    async with web(client) as browser:
        form = {"username": name, "password": WRONG, "csrf": "csrf-t"}
        for _ in range(3):
            page = await browser.post("/signin", data=form, headers={"X-Forwarded-For": ip})
            assert page.status_code == 401
    assert_limited(await sign_in(client, name, ip), settings.login_window_s)


async def test_success_clears_the_pair_counter(
    hardened: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, _ = hardened
    name, ip = await register(client), new_ip()
    for _ in range(2):  # 4 failures in all: over the pair limit, under the username one
        await fail(client, name, ip, 2)
        assert (await sign_in(client, name, ip)).status_code == 200


async def test_one_address_cannot_sweep_usernames(
    hardened: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, settings = hardened
    ip = new_ip()
    for _ in range(8):
        await fail(client, f"nobody{uuid.uuid4().hex[:8]}", ip, 1)
    assert_limited(await sign_in(client, await register(client), ip), settings.login_window_s)
    assert (await sign_in(client, await register(client), new_ip())).status_code == 200


async def test_distributed_guessing_of_one_username_is_capped(
    hardened: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, settings = hardened
    name = await register(client)
    for _ in range(3):
        await fail(client, name, new_ip(), 2)
    assert_limited(await sign_in(client, name, new_ip()), settings.login_window_s)
    assert (await sign_in(client, await register(client), new_ip())).status_code == 200


async def test_counters_are_shared_by_replicas(
    hardened: tuple[httpx.AsyncClient, Settings],
) -> None:
    first, settings = hardened
    name, ip = await register(first), new_ip()
    async with serve(settings) as second:  # same Redis, same key prefix
        await fail(first, name, ip, 2)
        await fail(second, name, ip, 1)
        assert_limited(await sign_in(first, name, ip), settings.login_window_s)
        assert_limited(await sign_in(second, name, ip), settings.login_window_s)


async def test_unreachable_redis_falls_back_to_in_process_counting(stack: Stack) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    settings = settings_for(stack, **LIMITS, redis_url=down, cache_timeout_s=0.05)
    async with serve(settings) as client:
        name, ip = await register(client), new_ip()
        assert (await sign_in(client, name, ip)).status_code == 200
        await fail(client, name, ip, 3)
        assert_limited(await sign_in(client, name, ip), settings.login_window_s)
        assert (await sign_in(client, name, new_ip())).status_code == 200


async def test_a_burst_of_parallel_guesses_gets_no_extra_tries(
    hardened: tuple[httpx.AsyncClient, Settings],
) -> None:
    """Attempts are counted before the password check: 12 at once, 3 get checked."""
    client, settings = hardened
    name, ip = await register(client), new_ip()
    replies = await asyncio.gather(*(sign_in(client, name, ip, WRONG) for _ in range(12)))
    assert sorted(r.status_code for r in replies) == [401] * 3 + [429] * 9


async def test_limiter_backend_follows_the_cache_and_windows_expire() -> None:
    settings = Settings(**LIMITS)
    assert LoginLimiter.for_cache(settings, MemoryCache()).backend == "memory"
    now = [0.0]
    limiter = LoginLimiter(settings, fallback=MemoryCounters(clock=lambda: now[0]))
    ip = "192.0.2.1"
    for _ in range(5):  # right passwords take their attempt back
        assert await limiter.attempt("Alice", ip) is None
        await limiter.succeeded("Alice", ip)
    for _ in range(3):  # wrong ones stay counted
        assert await limiter.attempt("Alice", ip) is None
    assert await limiter.attempt("alice ", ip) == 120  # case-folded username
    now[0] += 100
    assert await limiter.attempt("alice", ip) == 20
    now[0] += 21
    assert await limiter.attempt("alice", ip) is None  # a new window
    assert client_network("2001:db8::1") == client_network("2001:db8::ffff") == "2001:db8::/64"
    assert client_network("198.51.100.7") == "198.51.100.7" and client_network(None) == "unknown"


# ---------------------------------------------------------------- headers and CORS
async def test_security_headers(api: httpx.AsyncClient) -> None:
    _, auth = await sign_up(api)
    pages = (("/", {}), ("/movie/1", {}), ("/nope", {"accept": "text/html"}))
    api_answers = (("/healthz", {}), ("/me/list", auth), ("/nope", {}))
    for path, headers in (*pages, *api_answers):
        reply = await api.get(path, headers=headers)
        html = reply.headers["content-type"].startswith("text/html")
        assert html == ((path, headers) in pages), path
        assert reply.headers["x-content-type-options"] == "nosniff", path
        assert reply.headers["x-frame-options"] == "DENY", path
        # pages: the page policy and the document headers; JSON: nothing may load or frame
        assert reply.headers["content-security-policy"] == (CSP if html else API_CSP), path
        referrer = reply.headers.get("referrer-policy")
        assert referrer == ("strict-origin-when-cross-origin" if html else None), path
        assert "strict-transport-security" not in reply.headers  # plain http here
        assert "access-control-allow-origin" not in reply.headers
    assert (await api.get("/me/list", headers=auth)).headers["cache-control"] == "no-store"
    assert (await api.get("/", headers=auth)).headers["cache-control"] == "no-store"
    assert "no-store" not in (await api.get("/movies/1")).headers.get("cache-control", "")
    docs = await api.get("/docs")  # Swagger UI served by the gateway: the page policy
    assert docs.headers["content-security-policy"] == CSP
    assert "/docs-assets/swagger-ui-bundle.js" in docs.text and "<script>" not in docs.text
    assert (await api.get("/docs-assets/swagger-ui-bundle.js")).status_code == 200
    assert docs.headers["x-content-type-options"] == "nosniff"
    assert len((await api.get("/", headers=auth)).headers.get_list("x-frame-options")) == 1


async def test_csp_allows_what_the_pages_use() -> None:
    policy = dict(d.split(" ", 1) for d in CSP.split("; "))
    assert policy["script-src"] == "'self'" and "unsafe" not in policy["style-src"]
    assert "https://image.tmdb.org" in policy["img-src"]
    assert policy["frame-src"] == "https://www.youtube-nocookie.com"
    assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'"


async def test_cors_only_for_configured_origins(
    api: httpx.AsyncClient, hardened: tuple[httpx.AsyncClient, Settings]
) -> None:
    client, _ = hardened
    ask = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    pre = await client.options("/me/list/1", headers=ask)
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ORIGIN
    assert "PUT" in pre.headers["access-control-allow-methods"]
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in pre.headers  # bearer tokens, no cookies
    simple = await client.get("/healthz", headers={"Origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    evil = {**ask, "Origin": "https://evil.example"}
    assert (
        "access-control-allow-origin"
        not in (await client.options("/me/list/1", headers=evil)).headers
    )
    got = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in got.headers
    default = await api.options("/me/list/1", headers=ask)  # no origins configured
    assert "access-control-allow-origin" not in default.headers


# ---------------------------------------------------------------- isolation
#: Every route that reads or changes a user's data, and the test below that covers it.
USER_ROUTES = {
    ("GET", "/auth/me"),
    ("POST", "/auth/signout"),  # revokes only the token it carries (test_round_two)
    ("PUT", "/auth/password"),  # the token's own account (test_round_two)
    ("GET", "/me/list"),
    ("PUT", "/me/list/{movie_id}"),
    ("DELETE", "/me/list/{movie_id}"),
    ("GET", "/me/ratings"),
    ("PUT", "/me/ratings/{movie_id}"),
    ("POST", "/me/events"),
    ("GET", "/me/recommendations"),
    ("GET", "/users/{user_id}/recommendations"),
    ("GET", "/my-list"),
    ("POST", "/movie/{movie_id}/list"),
    ("POST", "/movie/{movie_id}/list/remove"),
    ("POST", "/movie/{movie_id}/rating"),
    ("GET", "/me/not-interested"),
    ("PUT", "/me/not-interested/{movie_id}"),
    ("DELETE", "/me/not-interested/{movie_id}"),
    ("POST", "/movie/{movie_id}/not-interested"),
    ("POST", "/movie/{movie_id}/not-interested/remove"),
    ("GET", "/for-you"),
    ("GET", "/movie/{movie_id}"),  # shows the caller's rating and list state
    ("GET", "/search"),  # marks movies on the caller's list
}


def _needs_user(dependant) -> bool:
    return dependant.call in (get_current_user, require_user) or any(
        _needs_user(d) for d in dependant.dependencies
    )


def _api_routes(routes: list) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI includes them lazily; the
    routers here are included without an extra prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


async def test_every_signed_in_route_is_covered() -> None:
    """A new route that needs a signed-in user must be added to the isolation tests."""
    app = create_app(Settings())
    signed_in = {
        (method, route.path)
        for route in _api_routes(app.routes)
        if _needs_user(route.dependant)
        for method in route.methods
    }
    assert signed_in and signed_in <= USER_ROUTES, signed_in - USER_ROUTES


def _db_rows(stack: Stack, user_id: int) -> dict[str, set]:
    engine = create_sync_engine(stack.db_url)
    with engine.connect() as conn:
        out = {
            "list": set(
                conn.execute(
                    select(user_movielist.c.movie_id).where(user_movielist.c.user_id == user_id)
                ).scalars()
            ),
            "ratings": {
                (r.movie_id, float(r.rating))
                for r in conn.execute(
                    select(rating_explicit).where(rating_explicit.c.user_id == user_id)
                )
            },
            "events": {
                (r.movie_id, r.event, r.event_count)
                for r in conn.execute(
                    select(rating_implicit).where(rating_implicit.c.user_id == user_id)
                )
            },
        }
    engine.dispose()
    return out


LISTED, RATED, VIEWED = 1214, 1, 2571  # Alien, Toy Story, The Matrix
REASON = '<span class="reason">Because you'  # a reason drawn from the user's own history


async def alice_with_data(api: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    alice, auth = await sign_up(api)
    assert (await api.put(f"/me/list/{LISTED}", headers=auth)).status_code == 204
    reply = await api.put(f"/me/ratings/{RATED}", json={"rating": 4.5}, headers=auth)
    assert reply.status_code == 200
    event = {"movie_id": VIEWED, "event": "view"}
    assert (await api.post("/me/events", json=event, headers=auth)).status_code == 202
    return alice, auth


async def test_api_user_cannot_read_or_change_another_users_data(
    api: httpx.AsyncClient, stack: Stack
) -> None:
    alice, alice_auth = await alice_with_data(api)
    before = _db_rows(stack, alice)
    mine = await api.get("/me/recommendations", headers=alice_auth)  # cached for alice
    assert any(i["reason"].startswith("Because you") for i in mine.json()["items"])
    bob, bob_auth = await sign_up(api)
    theirs = (await api.get("/me/recommendations", headers=bob_auth)).json()
    assert not any(i["reason"].startswith("Because you") for i in theirs["items"])

    assert (await api.get("/auth/me", headers=bob_auth)).json()["user_id"] == bob
    assert (await api.get("/me/list", headers=bob_auth)).json() == []
    assert (await api.get("/me/ratings", headers=bob_auth)).json() == []
    assert_error(await api.delete(f"/me/list/{LISTED}", headers=bob_auth), 404, "not_found")
    reply = await api.put(f"/me/ratings/{RATED}", json={"rating": 1.0}, headers=bob_auth)
    assert reply.status_code == 200 and reply.json()["rating"] == 1.0  # bob's own rating
    assert (await api.put(f"/me/list/{LISTED}", headers=bob_auth)).status_code == 204
    assert (await api.delete(f"/me/list/{LISTED}", headers=bob_auth)).status_code == 204
    event = {"movie_id": VIEWED, "event": "view"}
    assert (await api.post("/me/events", json=event, headers=bob_auth)).status_code == 202
    for path in (f"/users/{alice}/recommendations", f"/users/{alice}/recommendations?limit=5"):
        assert_error(await api.get(path, headers=bob_auth), 403, "forbidden")
    assert (await api.get(f"/users/{bob}/recommendations", headers=bob_auth)).status_code == 200

    assert _db_rows(stack, alice) == before  # nothing of alice's changed
    assert [i["movie_id"] for i in (await api.get("/me/list", headers=alice_auth)).json()] == [
        LISTED
    ]
    ratings = (await api.get("/me/ratings", headers=alice_auth)).json()
    assert [(r["movie_id"], r["rating"]) for r in ratings] == [(RATED, 4.5)]
    assert _db_rows(stack, bob)["ratings"] == {(RATED, 1.0)}


async def test_every_user_route_refuses_anonymous_callers(api: httpx.AsyncClient) -> None:
    alice, _ = await sign_up(api)
    for method, path in USER_ROUTES:
        url = path.replace("{movie_id}", str(LISTED)).replace("{user_id}", str(alice))
        if path.startswith(("/auth", "/me", "/users")):
            body = {"movie_id": 1, "event": "view"} if path == "/me/events" else {"rating": 3}
            reply = await api.request(method, url, json=body if method != "GET" else None)
            assert_error(reply, 401, "unauthorized")
        elif method == "GET" and path not in ("/movie/{movie_id}", "/search"):
            page = await api.get(url)
            assert page.status_code == 303 and page.headers["location"].startswith("/signin")
        elif method == "POST":
            async with web(api) as browser:
                page = await browser.post(url, data={"csrf": "csrf-t", "rating": "3"})
            assert page.status_code == 303 and page.headers["location"].startswith("/signin")


def _on_list(html: str, movie_id: int) -> bool:
    return f'action="/movie/{movie_id}/list/remove"' in html


async def test_web_pages_show_and_change_only_the_session_users_data(
    api: httpx.AsyncClient, stack: Stack
) -> None:
    alice, alice_auth = await alice_with_data(api)
    before = _db_rows(stack, alice)
    async with web(api, token_of(alice_auth)) as as_alice:
        assert _on_list((await as_alice.get("/my-list")).text, LISTED)
        assert "You rated it 4.5" in (await as_alice.get(f"/movie/{RATED}")).text
        assert REASON in (await as_alice.get("/for-you")).text
    _, bob_auth = await sign_up(api)
    async with web(api, token_of(bob_auth)) as as_bob:
        assert not _on_list((await as_bob.get("/my-list")).text, LISTED)
        assert not _on_list((await as_bob.get(f"/movie/{LISTED}")).text, LISTED)
        assert not _on_list((await as_bob.get("/search", params={"q": "alien"})).text, LISTED)
        assert "You rated it" not in (await as_bob.get(f"/movie/{RATED}")).text
        assert REASON not in (await as_bob.get("/for-you")).text
        for url, form in (
            (f"/movie/{LISTED}/list/remove", {}),
            (f"/movie/{RATED}/rating", {"rating": "1"}),
            (f"/movie/{VIEWED}/list", {}),
        ):
            page = await as_bob.post(url, data={"csrf": "csrf-t", **form})
            assert page.status_code == 303 and "notice=" in page.headers["location"], url
    assert _db_rows(stack, alice) == before


async def test_forms_need_the_csrf_token_and_our_origin(
    api: httpx.AsyncClient, stack: Stack
) -> None:
    alice, alice_auth = await alice_with_data(api)
    before = _db_rows(stack, alice)
    token = token_of(alice_auth)
    forged = (
        ({}, {}),  # no CSRF field
        ({"csrf": "guessed"}, {}),  # field does not match the cookie
        ({"csrf": "csrf-t"}, {"Origin": "https://evil.example"}),  # right token, foreign site
        ({"csrf": "csrf-t"}, {"Referer": "https://evil.example/page"}),
    )
    async with web(api, token) as as_alice:
        for data, headers in forged:
            for url, form in (
                (f"/movie/{LISTED}/list/remove", {}),
                (f"/movie/{RATED}/rating", {"rating": "1"}),
                (f"/movie/{VIEWED}/list", {}),
                ("/signout", {}),
            ):
                page = await as_alice.post(url, data={**data, **form}, headers=headers)
                assert page.status_code == 403, (url, data, headers)
                assert "kr_session" not in page.headers.get("set-cookie", "")
    async with httpx.AsyncClient(base_url=api.base_url, cookies={"kr_session": token}) as bare:
        page = await bare.post(f"/movie/{LISTED}/list/remove", data={"csrf": "csrf-t"})
        assert page.status_code == 403  # no CSRF cookie at all
    assert _db_rows(stack, alice) == before
    async with web(api, token) as as_alice:  # the same form with the token is accepted
        page = await as_alice.post(f"/movie/{LISTED}/list/remove", data={"csrf": "csrf-t"})
        assert page.status_code == 303
    assert LISTED not in _db_rows(stack, alice)["list"]


async def test_signin_page_sets_a_fresh_csrf_cookie(api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as browser:
        page = await browser.get("/signin")
        csrf = browser.cookies["kr_csrf"]
        assert re.search(rf'name="csrf" value="{re.escape(csrf)}"', page.text)
        assert "httponly" in page.headers["set-cookie"].lower()
