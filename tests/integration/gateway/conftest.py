"""The gateway on a real socket (uvicorn) over real MariaDB (ml-latest-small), Redis and
three real grpc.aio servers (candidates, ranking, content) on loopback.

The servers' servicers are defined here from real popularity and genre data read from the
database, so the gateway's orchestration is tested against the committed protos without
training models; the trained services have their own tests in tests/integration/services.
"""

from __future__ import annotations

import asyncio
import math
import socket
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import func, select
from tests.conftest import REDIS_URL, create_mysql_database, drop_mysql_database, train_small

from kryptonite.config import Settings
from kryptonite.datasets.ingest import ingest_dataset
from kryptonite.gateway.app import create_app
from kryptonite.rpc.errors import InvalidArgument, NotFound
from kryptonite.rpc.generated.v1 import (
    candidates_pb2,
    candidates_pb2_grpc,
    common_pb2,
    content_pb2,
    content_pb2_grpc,
    ranking_pb2,
    ranking_pb2_grpc,
)
from kryptonite.rpc.metrics import RpcMetrics
from kryptonite.rpc.server import RpcServer, service_def
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.tables import genres, movie_genres, rating_explicit

SCIFI = "Sci-Fi"
C = common_pb2


# ---------------------------------------------------------------- real data
@dataclass
class Catalog:
    """Popularity (number of ratings) and genres of every rated movie."""

    popularity: dict[int, int]
    genres: dict[int, frozenset[str]]

    def neighbours(
        self, seeds: Iterable[int], exclude: set[int], n: int
    ) -> list[tuple[int, float, int]]:
        """(movie, score, best seed) by genre overlap with the seeds x log popularity."""
        seeds = [s for s in seeds if s in self.genres]
        profile: dict[str, float] = {}
        for s in seeds:
            for g in self.genres[s]:
                profile[g] = profile.get(g, 0.0) + 1.0
        out = []
        for movie, gs in self.genres.items():
            if movie in exclude or movie in seeds or not gs:
                continue
            overlap = sum(profile.get(g, 0.0) for g in gs) / len(gs)
            if overlap > 0:
                anchor = max(seeds, key=lambda s: len(self.genres[s] & gs))
                out.append((movie, overlap * math.log1p(self.popularity[movie]), anchor))
        out.sort(key=lambda t: (-t[1], t[0]))
        return out[:n]

    def popular(self, exclude: set[int], n: int) -> list[tuple[int, float]]:
        ranked = sorted(self.popularity.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(m, float(c)) for m, c in ranked if m not in exclude][:n]


def read_catalog(url: str) -> Catalog:
    engine = create_sync_engine(url)
    with engine.connect() as conn:
        pop = dict(
            conn.execute(
                select(rating_explicit.c.movie_id, func.count()).group_by(
                    rating_explicit.c.movie_id
                )
            ).all()
        )
        by_movie: dict[int, set[str]] = {}
        for movie, name in conn.execute(
            select(movie_genres.c.movie_id, genres.c.name).join(
                genres, genres.c.genre_id == movie_genres.c.genre_id
            )
        ):
            by_movie.setdefault(movie, set()).add(name)
    engine.dispose()
    return Catalog(pop, {m: frozenset(by_movie.get(m, ())) for m in pop})


# ---------------------------------------------------------------- servicers
def scored(movie: int, score: float, source: int, kind: int, anchor: int = 0) -> C.ScoredMovie:
    return C.ScoredMovie(
        movie_id=movie,
        score=score,
        source=source,
        reason=C.Reason(kind=kind, anchor_movie_id=anchor),
    )


class Candidates(candidates_pb2_grpc.CandidatesServiceServicer):
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.calls = 0

    async def GetCandidates(self, request, context):
        self.calls += 1
        if request.limit < 0:
            raise InvalidArgument("limit must be >= 0")
        limit = request.limit or 100
        exclude = set(request.exclude_movie_ids)
        sources = [q.source for q in request.sources] or [
            C.CANDIDATE_SOURCE_CONTENT,
            C.CANDIDATE_SOURCE_ITEM2ITEM,
            C.CANDIDATE_SOURCE_MF,
            C.CANDIDATE_SOURCE_POPULAR,
        ]
        out: dict[int, C.ScoredMovie] = {}
        for source in sources:
            if source == C.CANDIDATE_SOURCE_CONTENT and request.list_movie_ids:
                for m, s, a in self.catalog.neighbours(request.list_movie_ids, exclude, limit):
                    out.setdefault(m, scored(m, s, source, C.REASON_KIND_BECAUSE_LISTED, a))
            elif source == C.CANDIDATE_SOURCE_ITEM2ITEM and request.recent_movie_ids:
                for m, s, a in self.catalog.neighbours(request.recent_movie_ids, exclude, limit):
                    out.setdefault(m, scored(m, s, source, C.REASON_KIND_BECAUSE_WATCHED, a))
            elif source in (C.CANDIDATE_SOURCE_POPULAR, C.CANDIDATE_SOURCE_MF):
                kind = C.REASON_KIND_POPULAR if source == 4 else C.REASON_KIND_PERSONALIZED
                for m, s in self.catalog.popular(exclude, limit):
                    out.setdefault(m, scored(m, math.log1p(s), source, kind))
        ranked = sorted(out.values(), key=lambda c: -c.score)[:limit]
        return candidates_pb2.GetCandidatesResponse(
            candidates=ranked, model_version="cand-1", cold_start=not request.recent_movie_ids
        )


class Ranking(ranking_pb2_grpc.RankingServiceServicer):
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def Rank(self, request, context):
        seeds = [*request.list_movie_ids, *request.recent_movie_ids]
        near = {m: (s, a) for m, s, a in self.catalog.neighbours(seeds, set(), 10_000)}
        items = []
        for c in request.candidates:
            boost, anchor = near.get(c.movie_id, (0.0, 0))
            kind = C.REASON_KIND_BECAUSE_LISTED if anchor else C.REASON_KIND_PERSONALIZED
            if anchor and anchor not in request.list_movie_ids:
                kind = C.REASON_KIND_BECAUSE_WATCHED
            items.append(scored(c.movie_id, c.retrieval_score + boost, c.source, kind, anchor))
        items.sort(key=lambda i: -i.score)
        return ranking_pb2.RankResponse(items=items[: request.limit or 50], model_version="rank-1")


class Content(content_pb2_grpc.ContentServiceServicer):
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def SimilarMovies(self, request, context):
        if request.movie_id not in self.catalog.genres:
            raise NotFound(f"unknown movie {request.movie_id}")
        near = self.catalog.neighbours([request.movie_id], set(), request.limit or 20)
        movies = [
            scored(m, s, C.CANDIDATE_SOURCE_CONTENT, C.REASON_KIND_SIMILAR, a) for m, s, a in near
        ]
        return content_pb2.SimilarMoviesResponse(movies=movies, model_version="content-1")

    async def RecommendForMovies(self, request, context):
        known = [m for m in request.movie_ids if m in self.catalog.genres]
        if not known:
            raise NotFound("no known seed movie")
        near = self.catalog.neighbours(known, set(request.exclude_movie_ids), request.limit or 20)
        movies = [
            scored(m, s, C.CANDIDATE_SOURCE_CONTENT, C.REASON_KIND_BECAUSE_LISTED, a)
            for m, s, a in near
        ]
        return content_pb2.RecommendForMoviesResponse(movies=movies, model_version="content-1")


# ---------------------------------------------------------------- fixtures
@dataclass
class Stack:
    db_url: str
    catalog: Catalog
    addrs: dict[str, str]
    servers: dict[str, RpcServer]
    candidates: Candidates


@pytest.fixture(scope="session")
def gateway_db(data_dir: Path) -> Iterable[str]:
    """One MariaDB database with ml-latest-small for the whole folder (tests only add
    their own users and their rows)."""
    url, engine = create_mysql_database()
    engine.dispose()
    ingest_dataset(Settings(database_url=url, data_dir=data_dir), "ml-latest-small")
    yield url
    drop_mysql_database(url)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(gateway_db: str) -> AsyncIterator[Stack]:
    catalog = read_catalog(gateway_db)
    candidates = Candidates(catalog)
    defs = {
        "candidates": service_def(
            candidates, candidates_pb2_grpc, candidates_pb2, "CandidatesService"
        ),
        "ranking": service_def(Ranking(catalog), ranking_pb2_grpc, ranking_pb2, "RankingService"),
        "content": service_def(Content(catalog), content_pb2_grpc, content_pb2, "ContentService"),
    }
    servers: dict[str, RpcServer] = {}
    addrs = {}
    for name, svc in defs.items():
        server = RpcServer([svc], port=0, metrics=RpcMetrics(_registry()), metrics_port=None)
        port = await server.start()
        await server.set_serving()
        servers[name], addrs[name] = server, f"127.0.0.1:{port}"
    yield Stack(gateway_db, catalog, addrs, servers, candidates)
    for server in servers.values():
        await server.stop(0)


def _registry():
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


def free_port() -> int:
    """A loopback port nobody listens on (a "down" service or store)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_for(stack: Stack, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "database_url": stack.db_url,
        "redis_url": REDIS_URL,
        "cache_prefix": f"test-{uuid.uuid4().hex[:8]}",
        "candidates_addr": stack.addrs["candidates"],
        "ranking_addr": stack.addrs["ranking"],
        "content_addr": stack.addrs["content"],
        "rpc_timeout_s": 1.0,
        "token_secret": "test-secret-0123456789abcdef0123456789",  # pragma: allowlist secret
    }
    return Settings(**(base | overrides))


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway under uvicorn on a free loopback port; an httpx client bound to it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The full stack: MariaDB, Redis, the three servers, the gateway on a socket."""
    async with serve(settings_for(stack)) as client:
        yield client


def expect(reply: httpx.Response, status: int) -> Any:
    """``reply``'s JSON body (None when empty) once its status is exactly ``status``."""
    assert reply.status_code == status, (
        reply.request.method,
        str(reply.request.url),
        reply.status_code,
        reply.text[:500],
    )
    return reply.json() if reply.content else None


async def sign_up(client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    """A fresh account; (user id, Authorization header)."""
    name = f"user{uuid.uuid4().hex[:10]}"
    # pragma: allowlist nextline secret
    reply = await client.post("/auth/register", json={"username": name, "password": "pw-secret-1"})
    assert reply.status_code == 201, reply.text
    # pragma: allowlist nextline secret
    token = await client.post("/auth/token", data={"username": name, "password": "pw-secret-1"})
    assert token.status_code == 200, token.text
    return reply.json()["user_id"], {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture(scope="session")
def scifi_movies(stack: Stack) -> list[int]:
    """Three popular movies whose genres include Sci-Fi."""
    ranked = sorted(stack.catalog.popularity, key=lambda m: -stack.catalog.popularity[m])
    return [m for m in ranked if SCIFI in stack.catalog.genres[m]][:3]


@pytest.fixture(scope="session")
def artifacts(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small real models trained on ml-latest-small, published to a local artifact store."""
    root = tmp_path_factory.mktemp("artifacts")
    train_small(data_dir, root)
    return root
