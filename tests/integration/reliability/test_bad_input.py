"""Hostile input on every parameter of the live gateway (real socket, MariaDB, Redis,
three gRPC servers): SQL injection strings, huge and negative numbers, unicode and broken
encodings, empty and malformed bodies. Each answer is a clear 4xx in the one error shape
(or a correct 2xx), never a 5xx or a stack trace; afterwards the database has the same
tables and, apart from the accounts a test created on purpose, the same row counts.

The same hostile requests also run against the embedded default (SQLite, in-process
cache), where out-of-range integers fail differently.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from rapidfuzz.distance import OSA
from sqlalchemy import select
from tests.integration.gateway.conftest import Stack, serve, settings_for, sign_up
from tests.integration.reliability.conftest import table_counts

from kryptonite.config import Settings
from kryptonite.datasets.ingest import ingest_dataset
from kryptonite.gateway.search import fold
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.tables import users

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "pw-long-1"  # pragma: allowlist secret
UNICODE_PASSWORD = "pässwörd-😀"  # pragma: allowlist secret
INJECTIONS = [
    "' OR '1'='1",
    "' OR 1=1 -- ",
    '" OR ""="',
    "1; DROP TABLE users; --",
    "'; DELETE FROM movies; --",
    "1' UNION SELECT user_id, password_hash, email FROM users -- ",
    "admin'--",
    "') OR ('a'='a",
    "%' OR title LIKE '%",
    "\\'; TRUNCATE rating_explicit; #",
    "1 AND SLEEP(5)",
    "x' AND extractvalue(1, concat(0x7e, (SELECT @@version))) AND '1'='1",
    "%",
    "_",
    "\\",
    "%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%",
]
NUMBERS = [
    "0",
    "-1",
    "-2147483649",
    "2147483648",
    "9223372036854775808",
    "-9223372036854775809",
    "1" + "0" * 60,
    "1e3",
    "1.5",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x10",
    " 1",
    "١",  # an Arabic-Indic digit one
    "",
]
UNICODE = [
    "Amélie",
    "千と千尋の神隠し",
    "😀🎬🍿",
    "\u202eevil\u202c",  # right-to-left override
    "e\u0301" * 50,  # combining accents
    "\x00",
    "a\x00b",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "Ω" * 200,
    "Ω" * 201,  # over max_length=200 (in characters, not bytes)
]
#: (method, path template) of JSON routes with a path id.
ID_ROUTES = [
    ("GET", "/movies/{}"),
    ("GET", "/movies/{}/similar"),
    ("PUT", "/me/list/{}"),
    ("DELETE", "/me/list/{}"),
    ("PUT", "/me/ratings/{}"),
    ("GET", "/users/{}/recommendations"),
]


def accepted(number: str) -> tuple[int, ...]:
    """Statuses besides 4xx a request with ``number`` may get: " 1" is 1, 1.5 a rating,
    1e3 an integral float; "" leaves a path without its id (a redirect)."""
    if number.strip() in ("1", "1.5", "1e3"):
        return (200, 202, 204)
    return (307,) if number == "" else ()


def assert_clean(reply: httpx.Response, *allowed: int) -> None:
    """Not a 5xx, no stack trace; a JSON error in the one shape for every 4xx of the API;
    and one of ``allowed`` when given."""
    assert reply.status_code < 500, (reply.request.method, reply.request.url, reply.text)
    assert "Traceback" not in reply.text and "sqlalchemy" not in reply.text.lower()
    if allowed:
        assert reply.status_code in allowed, (reply.request.url, reply.status_code, reply.text)
    if reply.status_code >= 400 and reply.headers.get("content-type", "").startswith(
        "application/json"
    ):
        error = reply.json()["error"]
        assert error["code"] and error["message"]


@pytest.fixture(scope="session")
async def account(api: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    """The signed-in user of these tests (its own list, ratings and events may change)."""
    return await sign_up(api)


@pytest.fixture(scope="session")
def auth(account: tuple[int, dict[str, str]]) -> dict[str, str]:
    return account[1]


@pytest_asyncio.fixture(loop_scope="session")
async def intact(stack: Stack, account: tuple[int, dict[str, str]]) -> AsyncIterator[dict]:
    """Row counts before the test; after it, the same tables hold the same number of rows
    (the signed-in user's own rows aside) except ``users``, which grows by the accounts the
    test says it created."""
    mine = [account[0]]
    before = table_counts(stack.db_url, mine)
    created = {"users": 0}
    yield created
    after = table_counts(stack.db_url, mine)
    assert after.keys() == before.keys()
    assert before["movies"] > 9000  # ml-latest-small is still there
    expected = before | {"users": before["users"] + created["users"]}
    assert after == expected


# ---------------------------------------------------------------- SQL injection
def _has_words(title: str, words: list[str]) -> bool:
    """Every query word is in the folded title (a word's start, or one typo away)."""
    folded = fold(title)
    have = folded.split()
    return all(
        w in folded or any(t.startswith(w) or OSA.distance(w, t) <= 1 for t in have) for w in words
    )


async def test_injection_in_search_is_a_literal(
    api: httpx.AsyncClient, intact: dict[str, int]
) -> None:
    """Search text is only ever words to match (folded: punctuation dropped), never SQL:
    an injection matches nothing or titles having those words, never the whole catalog."""
    everything = (await api.get("/movies", params={"limit": 1})).json()["total"]
    for text in INJECTIONS:
        for field, longest in (("q", 200), ("genre", 64)):
            reply = await api.get("/movies", params={field: text, "limit": 100})
            if len(text) > longest:
                assert_clean(reply, 422)
                continue
            assert_clean(reply, 200)
            page = reply.json()
            assert page["total"] < everything, (field, text, page["total"])
            if field == "q":
                words = fold(text).split()
                assert words or page["total"] == 0, text
                assert all(_has_words(i["title"], words) for i in page["items"]), text
            else:
                assert page["total"] == 0
        web = await api.get("/search", params={"q": text})
        assert_clean(web, 200)


async def test_injection_in_enums_and_ids_is_422(
    api: httpx.AsyncClient, auth: dict[str, str], intact: dict[str, int]
) -> None:
    for text in INJECTIONS:
        encoded = quote(text, safe="")
        assert_clean(await api.get(f"/movies/daily/{encoded}"), 404, 422)
        assert_clean(await api.get(f"/movies/{encoded}"), 404, 422)
        reply = await api.get("/me/recommendations", params={"strategy": text}, headers=auth)
        assert_clean(reply, 422)
        assert reply.json()["error"]["field"] == "strategy"
        for body in ({"movie_id": text, "event": "view"}, {"movie_id": 1, "event": text}):
            assert_clean(await api.post("/me/events", json=body, headers=auth), 422)
        assert_clean(await api.put("/me/ratings/1", json={"rating": text}, headers=auth), 422)
        assert_clean(await api.get("/movies", params={"year": text}), 422)
        assert_clean(await api.get("/movies", params={"limit": text}), 422)


async def test_injection_in_credentials_never_signs_in(
    api: httpx.AsyncClient, stack: Stack, intact: dict[str, int]
) -> None:
    victim_name = f"victim{uuid.uuid4().hex[:8]}"
    reply = await api.post("/auth/register", json={"username": victim_name, "password": PASSWORD})
    assert_clean(reply, 201)
    victim = reply.json()["user_id"]
    intact["users"] += 1
    for i, text in enumerate(INJECTIONS):
        # An injected username, or the victim's name with an injected password (each a
        # full Argon2 verification: one form per string keeps the test short).
        form = {"username": text if i % 2 else victim_name, "password": text}
        reply = await api.post("/auth/token", data=form)
        assert_clean(reply, 401, 429)
        bad_token = {"Authorization": f"Bearer {text.strip()}"}
        assert_clean(await api.get("/auth/me", headers=bad_token), 401)
        # Usernames are restricted; passwords and e-mails are data, stored as they are.
        reply = await api.post("/auth/register", json={"username": text, "password": PASSWORD})
        assert_clean(reply, 422)
    name = f"inj{uuid.uuid4().hex[:8]}"
    email = "x'OR'1'='1--@evil.io"
    password = "' OR '1'='1' -- "
    reply = await api.post(
        "/auth/register", json={"username": name, "password": password, "email": email}
    )
    assert_clean(reply, 201)
    intact["users"] += 1
    assert reply.json()["email"] == email
    token = await api.post("/auth/token", data={"username": name, "password": password})
    assert_clean(token, 200)
    assert (
        await api.post("/auth/token", data={"username": name, "password": "x"})
    ).status_code in (
        401,
        429,
    )
    engine = create_sync_engine(stack.db_url)
    with engine.connect() as conn:
        stored = conn.execute(select(users.c.email).where(users.c.username == name)).scalar_one()
        assert conn.execute(select(users.c.user_id).where(users.c.user_id == victim)).first()
    engine.dispose()
    assert stored == email


# ---------------------------------------------------------------- numbers
async def test_huge_negative_and_odd_numbers(
    api: httpx.AsyncClient, auth: dict[str, str], intact: dict[str, int]
) -> None:
    for text in NUMBERS:
        encoded = quote(text, safe="")
        # " 1" is 1 (a correct 2xx); 404: unknown movie or no route for "";
        # 403: someone else's recommendations.
        ok = accepted(text)
        for method, template in ID_ROUTES:
            path = template.format(encoded) if text else template.format("")
            body = {"rating": 4} if "ratings" in template else None
            reply = await api.request(method, path, json=body, headers=auth)
            assert_clean(reply, 403, 404, 405, 422, *ok)
        for param in ("limit", "offset", "year"):
            assert_clean(await api.get("/movies", params={param: text}), 200, 422)
        for route in ("/me/recommendations", "/movies/daily/new", "/movies/1/similar"):
            reply = await api.get(route, params={"limit": text}, headers=auth)
            assert_clean(reply, 400, 422, *ok)
        for raw in (text, f'"{text}"'):
            body = f'{{"movie_id": {raw or 0}, "event": "view"}}'
            reply = await api.post(
                "/me/events", content=body, headers=auth | {"content-type": "application/json"}
            )
            assert_clean(reply, 404, 422, *ok)
            rating = f'{{"rating": {raw or 0}}}'
            reply = await api.put(
                "/me/ratings/1", content=rating, headers=auth | {"content-type": "application/json"}
            )
            assert_clean(reply, 422, *ok)
        assert_clean(await api.get(f"/movie/{encoded}"), 404, 422, *ok)  # web page
        assert_clean(await api.get("/search", params={"q": "a", "page": text}), 200, 422)


async def test_valid_numbers_at_the_edges(
    api: httpx.AsyncClient, auth: dict[str, str], intact: dict[str, int]
) -> None:
    """The largest id a column holds is a clean 404, one more is a 422."""
    top = 2**31 - 1
    for method, template in ID_ROUTES:
        body = {"rating": 4} if "ratings" in template else None
        reply = await api.request(method, template.format(top), json=body, headers=auth)
        assert_clean(reply, 403, 404)
        reply = await api.request(method, template.format(top + 1), json=body, headers=auth)
        assert_clean(reply, 422)
    event = {"movie_id": top, "event": "view"}
    assert_clean(await api.post("/me/events", json=event, headers=auth), 404)
    event["movie_id"] = top + 1
    assert_clean(await api.post("/me/events", json=event, headers=auth), 422)
    last = await api.get("/movies", params={"offset": 1_000_000, "limit": 100})
    assert_clean(last, 200)
    assert last.json()["items"] == []


# ---------------------------------------------------------------- unicode
async def test_unicode_and_broken_encodings(
    api: httpx.AsyncClient, auth: dict[str, str], intact: dict[str, int]
) -> None:
    for text in UNICODE:
        reply = await api.get("/movies", params={"q": text})
        assert_clean(reply, 200, 422)
        assert reply.status_code == (422 if len(text) > 200 else 200), text
        assert_clean(await api.get("/movies", params={"genre": text}), 200, 422)
        assert_clean(await api.get("/search", params={"q": text}), 200, 422)
        assert_clean(await api.get(f"/movies/daily/{quote(text, safe='')}"), 404, 422)
        reply = await api.post("/auth/register", json={"username": text, "password": PASSWORD})
        assert_clean(reply, 422)
    # A known title with non-ASCII characters is found by them.
    amelie = (await api.get("/movies", params={"q": "Amélie"})).json()
    assert amelie["total"] >= 1
    # Bytes that are not UTF-8, and percent-escapes of them, in the query string and path.
    for raw in (b"q=%ff%fe", b"q=%ed%a0%80", b"q=%c3", b"genre=%00"):
        url = httpx.URL("/movies", query=raw)
        assert_clean(await api.get(url), 200, 400, 422)
    assert_clean(await api.get("/movies/%ff"), 404, 422)
    # JSON with escapes of lone surrogates, and raw bytes that are not UTF-8.
    json_ct = {"content-type": "application/json"}
    bodies = [
        b'{"username": "u\\ud800x", "password": "pw-long-1"}',  # pragma: allowlist secret
        b'{"username": "okname", "password": "\\ud800\\udc00\\ud800-long-password"}',
        # pragma: allowlist nextline secret
        b'{"username": "okname", "password": "pw-long-1", "email": "\\udfff@x.io"}',
        b'{"username": "okname", "password": "\xff\xfe-long-password"}',
    ]
    for body in bodies:
        reply = await api.post("/auth/register", content=body, headers=json_ct)
        assert_clean(reply, 400, 422)  # 400: the body is not UTF-8 at all
    reply = await api.post(
        "/me/events", content=b'{"movie_id": 1, "event": "vi\\ud800ew"}', headers=auth | json_ct
    )
    assert_clean(reply, 422)
    # A valid unicode e-mail is stored and returned as sent.
    email = f"zoë.{uuid.uuid4().hex[:6]}@exämple.org"
    name = f"uni{uuid.uuid4().hex[:8]}"
    reply = await api.post(
        "/auth/register", json={"username": name, "password": UNICODE_PASSWORD, "email": email}
    )
    assert_clean(reply, 201)
    intact["users"] += 1
    assert reply.json()["email"] == email
    token = await api.post("/auth/token", data={"username": name, "password": UNICODE_PASSWORD})
    assert_clean(token, 200)


# ---------------------------------------------------------------- bodies
BODY_ROUTES = [
    ("POST", "/auth/register"),
    ("POST", "/auth/token"),
    ("PUT", "/me/ratings/1"),
    ("POST", "/me/events"),
]
BAD_BODIES: list[tuple[bytes | None, str | None]] = [
    (None, None),
    (b"", "application/json"),
    (b"null", "application/json"),
    (b"[]", "application/json"),
    (b"{}", "application/json"),
    (b"{", "application/json"),
    (b'"just a string"', "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b'{"a": ' * 5000 + b"1" + b"}" * 5000, "application/json"),  # deep nesting
    (b"rating=5&movie_id=1", "application/x-www-form-urlencoded"),
    (b"<xml/>", "application/xml"),
    (b"{}", "text/plain"),
    (b"", "multipart/form-data"),
    (b"--x\r\n", "multipart/form-data; boundary=x"),
]


async def test_empty_and_malformed_bodies(
    api: httpx.AsyncClient, auth: dict[str, str], intact: dict[str, int]
) -> None:
    for method, path in BODY_ROUTES:
        for content, content_type in BAD_BODIES:
            headers = dict(auth)
            if content_type:
                headers["content-type"] = content_type
            reply = await api.request(method, path, content=content, headers=headers)
            assert_clean(reply, 400, 401, 413, 415, 422)
            if reply.status_code == 422:
                assert reply.json()["error"]["code"] == "validation_error"


async def test_oversized_bodies_and_parameters(
    api: httpx.AsyncClient, auth: dict[str, str], intact: dict[str, int]
) -> None:
    big = b'{"rating": 4, "pad": "' + b"x" * (8 * 1024 * 1024) + b'"}'
    reply = await api.put(
        "/me/ratings/1", content=big, headers=auth | {"content-type": "application/json"}
    )
    assert_clean(reply, 200, 404, 413, 422)
    many = "&".join(f"f{i}=1" for i in range(20_000)).encode()
    reply = await api.post(
        "/auth/token",
        content=many + b"&username=a&password=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_clean(reply, 400, 401, 413, 422, 429)
    long_name = "u" * 100_000
    reply = await api.post("/auth/token", data={"username": long_name, "password": long_name})
    assert_clean(reply, 401, 413, 422, 429)
    reply = await api.get("/movies", params={"q": "x" * 20_000})
    assert_clean(reply, 414, 422, 431)
    # The API still answers after all of it.
    assert (await api.get("/movies/1")).status_code == 200


# ---------------------------------------------------------------- embedded default
@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def embedded(
    stack: Stack, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('embedded') / 'kryptonite.sqlite'}"
    ingest_dataset(Settings(database_url=url, data_dir=data_dir), "ml-latest-small")
    async with serve(settings_for(stack, database_url=url, redis_url=None)) as client:
        yield client, url


async def test_embedded_sqlite_same_answers(
    embedded: tuple[httpx.AsyncClient, str],
) -> None:
    api, url = embedded
    user_id, auth = await sign_up(api)
    before = table_counts(url, [user_id])
    for text in [*INJECTIONS, *UNICODE]:
        assert_clean(await api.get("/movies", params={"q": text}), 200, 422)
        assert_clean(await api.get("/search", params={"q": text}), 200, 422)
    for text in NUMBERS:
        encoded = quote(text, safe="")
        for method, template in ID_ROUTES:
            path = template.format(encoded) if text else template.format("")
            body = {"rating": 4} if "ratings" in template else None
            reply = await api.request(method, path, json=body, headers=auth)
            assert_clean(reply, 403, 404, 405, 422, *accepted(text))
        reply = await api.post(
            "/me/events", json={"movie_id": 2**31 - 1, "event": "view"}, headers=auth
        )
        assert_clean(reply, 404)
    assert table_counts(url, [user_id]) == before


# ---------------------------------------------------------------- web forms
async def test_web_forms_with_hostile_fields(
    api: httpx.AsyncClient, auth: dict[str, str], intact: dict[str, int]
) -> None:
    """The server-rendered forms (sign up, sign in, rate, list) with hostile values in
    every field, the CSRF token included: a page or a redirect, never a 5xx; a redirect
    never leaves the site."""
    token = auth["Authorization"].removeprefix("Bearer ")
    cookies = {"kr_csrf": "csrf-t", "kr_session": token}
    hostile = [*INJECTIONS, *UNICODE, *NUMBERS]
    # Sign-in runs Argon2 for every attempt (also for unknown users): a third of the values.
    slow = set(hostile[::3])
    async with httpx.AsyncClient(base_url=api.base_url, cookies=cookies, timeout=30) as browser:
        for text in hostile:
            forms = [
                ("/signup", {"username": text, "password": text, "email": text}),
                ("/signin", {"username": text, "password": text, "next": text}),
                ("/movie/1/rating", {"rating": text}),
                ("/movie/999999999/list", {"next": text}),
                ("/movie/999999999/list/remove", {"next": text}),
            ]
            for path, form in forms:
                if path == "/signin" and text not in slow:
                    continue
                # A hostile CSRF token is refused before anything else runs: one form will do.
                tokens = ("csrf-t", text) if path == "/signup" else ("csrf-t",)
                for csrf in tokens:
                    reply = await browser.post(path, data=form | {"csrf": csrf})
                    assert_clean(reply, 200, 303, 400, 401, 403, 404, 409, 422, 429)
                    location = reply.headers.get("location", "/")
                    assert location.startswith("/") and not location.startswith("//"), location
        for text in hostile:
            reply = await browser.get("/signin", params={"next": text})
            assert_clean(reply, 200, 422)
            assert_clean(await browser.get("/search", params={"q": text, "page": text}), 200, 422)


async def test_wrong_method_names_every_allowed_one(api: httpx.AsyncClient) -> None:
    """405 with ``Allow`` listing every method of the path (the routes are separate)."""
    for path, allowed in (
        ("/me/list/1", "PUT, DELETE"),
        ("/movies", "GET"),
        ("/signup", "GET, POST"),
    ):
        for method in ("PATCH", "OPTIONS", "TRACE"):
            reply = await api.request(method, path)
            assert_clean(reply, 405)
            assert reply.headers["allow"] == allowed, (method, path)
