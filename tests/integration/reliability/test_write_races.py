"""Concurrency fuzzer over every write route: bursts of parallel identical and conflicting
requests for one user, then the database is compared with what was acknowledged.

Invariants checked: no 5xx; a stored rating is one some request was told it stored; a list
entry and its implicit ``list`` event exist together (one transaction); every acknowledged
view/click event is counted (acknowledged writes lost = 0); parallel identical sign-ups
make one account; after sign-out and password change no old token works."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
import pytest
from sqlalchemy import select
from tests.integration.gateway.conftest import Stack, sign_up

from kryptonite.store.engine import create_sync_engine
from kryptonite.store.tables import rating_explicit, rating_implicit, user_movielist, users

pytestmark = [pytest.mark.mariadb, pytest.mark.redis, pytest.mark.asyncio(loop_scope="session")]

MOVIES = [1, 2, 3, 6, 10, 32, 47, 50]
PASSWORD = "pw-secret-1"  # pragma: allowlist secret


def _rows(stack: Stack, user_id: int):
    engine = create_sync_engine(stack.db_url)
    with engine.connect() as conn:
        ratings = dict(
            conn.execute(
                select(rating_explicit.c.movie_id, rating_explicit.c.rating).where(
                    rating_explicit.c.user_id == user_id
                )
            ).all()
        )
        listed = {
            m
            for (m,) in conn.execute(
                select(user_movielist.c.movie_id).where(user_movielist.c.user_id == user_id)
            )
        }
        events = {
            (m, e): n
            for m, e, n in conn.execute(
                select(
                    rating_implicit.c.movie_id,
                    rating_implicit.c.event,
                    rating_implicit.c.event_count,
                ).where(rating_implicit.c.user_id == user_id)
            )
        }
    engine.dispose()
    return ratings, listed, events


async def test_write_bursts_match_the_database(api: httpx.AsyncClient, stack: Stack) -> None:
    user_id, auth = await sign_up(api)
    rng = random.Random(14)
    acked_ratings: dict[int, set[float]] = {m: set() for m in MOVIES}
    acked_views: dict[int, int] = {m: 0 for m in MOVIES}
    statuses: list[int] = []
    tried = 0
    for _round in range(4):
        calls = []
        for movie in MOVIES:
            for _ in range(3):  # identical
                calls.append(("list+", movie, None))
                calls.append(("view", movie, None))
            for value in rng.sample([0.5 * i for i in range(1, 11)], 3):  # conflicting
                calls.append(("rate", movie, value))
            calls.append(("rate", movie, 4.0))
            calls.append(("rate", movie, 4.0))
            calls.append(("list-", movie, None))
        rng.shuffle(calls)

        async def send(kind: str, movie: int, value: float | None):
            if kind == "list+":
                return kind, movie, value, await api.put(f"/me/list/{movie}", headers=auth)
            if kind == "list-":
                return kind, movie, value, await api.delete(f"/me/list/{movie}", headers=auth)
            if kind == "view":
                body = {"movie_id": movie, "event": "view"}
                return kind, movie, value, await api.post("/me/events", json=body, headers=auth)
            reply = await api.put(f"/me/ratings/{movie}", json={"rating": value}, headers=auth)
            return kind, movie, value, reply

        results = await asyncio.gather(*(send(*c) for c in calls))
        tried += len(results)
        for kind, movie, value, reply in results:
            statuses.append(reply.status_code)
            if kind == "rate" and reply.status_code == 200:
                assert reply.json()["rating"] == value  # its own value
                acked_ratings[movie].add(value)
            if kind == "view" and reply.status_code == 202:
                acked_views[movie] += 1
    ratings, listed, events = _rows(stack, user_id)
    server_errors = [s for s in statuses if s >= 500]
    lost_views = sum(max(0, acked_views[m] - events.get((m, "view"), 0)) for m in MOVIES)
    lost_ratings = [
        m for m in MOVIES if acked_ratings[m] and ratings.get(m) not in acked_ratings[m]
    ]
    orphans = [m for m in MOVIES if (m in listed) != ((m, "list") in events)]
    print(
        f"write fuzz: {tried} requests, {len(server_errors)} 5xx, "
        f"{lost_views + len(lost_ratings)} acknowledged writes lost, statuses "
        f"{ {s: statuses.count(s) for s in sorted(set(statuses))} }"
    )
    assert server_errors == []
    assert lost_views == 0 and lost_ratings == []
    assert orphans == []
    assert set(statuses) <= {200, 202, 204, 404, 409}


async def test_parallel_identical_sign_ups_make_one_account(
    api: httpx.AsyncClient, stack: Stack
) -> None:
    name = f"twin{uuid.uuid4().hex[:8]}"
    body = {"username": name, "password": PASSWORD}
    spellings = [name, name.upper(), name.title(), name] * 3
    replies = await asyncio.gather(
        *(api.post("/auth/register", json={**body, "username": s}) for s in spellings)
    )
    codes = sorted(r.status_code for r in replies)
    assert codes.count(201) == 1 and codes.count(409) == len(spellings) - 1, codes
    engine = create_sync_engine(stack.db_url)
    with engine.connect() as conn:
        found = conn.execute(
            select(users.c.user_id).where(users.c.username_key == name.lower())
        ).all()
    engine.dispose()
    assert len(found) == 1


async def test_parallel_sign_outs_and_password_changes(api: httpx.AsyncClient) -> None:
    name = f"conc{uuid.uuid4().hex[:8]}"
    await api.post("/auth/register", json={"username": name, "password": PASSWORD})
    tokens = []
    for _ in range(4):
        reply = await api.post("/auth/token", data={"username": name, "password": PASSWORD})
        tokens.append({"Authorization": f"Bearer {reply.json()['access_token']}"})
    # pragma: allowlist nextline secret
    change = {"current_password": PASSWORD, "new_password": "new-secret-2"}
    replies = await asyncio.gather(
        *(api.post("/auth/signout", headers=t) for t in tokens[:2]),
        *(api.put("/auth/password", json=change, headers=t) for t in tokens[2:]),
    )
    assert all(r.status_code < 500 for r in replies), [r.text for r in replies]
    for t in tokens:
        assert (await api.get("/me/list", headers=t)).status_code == 401
