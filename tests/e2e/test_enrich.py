"""``kryptonite enrich`` against a local HTTP server standing in for the TMDB API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, insert, select

from kryptonite.pipeline.enrich import enrich
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.migrate import upgrade
from kryptonite.store.tables import movie_imdb_tmdb, movies

RECORDS = {
    862: {"poster_path": "/toy-story.jpg", "overview": "Toys come alive."},
    11: {"poster_path": "/star-wars.jpg", "overview": "A farm boy joins a rebellion."},
}


class FakeTmdb(BaseHTTPRequestHandler):
    """``GET /3/movie/{id}?api_key=k``; the first call for 11 is rate limited."""

    calls: list[str] = []
    limited = False

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        FakeTmdb.calls.append(self.path)
        if parse_qs(url.query).get("api_key") != ["k"]:
            return self._send(401, {"status_message": "Invalid API key"})
        tmdb_id = int(url.path.rsplit("/", 1)[-1])
        if tmdb_id == 11 and not FakeTmdb.limited:
            FakeTmdb.limited = True
            return self._send(429, {"status_message": "slow down"}, {"Retry-After": "0"})
        if tmdb_id not in RECORDS:
            return self._send(404, {"status_message": "not found"})
        return self._send(200, {"id": tmdb_id, **RECORDS[tmdb_id]})

    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tmdb() -> Iterator[str]:
    FakeTmdb.calls, FakeTmdb.limited = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTmdb)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/3"
    server.shutdown()
    server.server_close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_sync_engine(f"sqlite:///{tmp_path / 'enrich.sqlite'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(movies),
            [
                {"movie_id": 1, "title": "Toy Story (1995)", "year": 1995, "overview": None},
                {"movie_id": 260, "title": "Star Wars (1977)", "year": 1977, "overview": "Kept"},
                {"movie_id": 5, "title": "Unknown to TMDB", "year": 2000, "overview": None},
                {"movie_id": 6, "title": "No TMDB id", "year": 2001, "overview": None},
            ],
        )
        conn.execute(
            insert(movie_imdb_tmdb),
            [
                {"movie_id": 1, "imdb_id": "0114709", "tmdb_id": 862},
                {"movie_id": 260, "imdb_id": "0076759", "tmdb_id": 11},
                {"movie_id": 5, "imdb_id": None, "tmdb_id": 999999},
                {"movie_id": 6, "imdb_id": None, "tmdb_id": None},
            ],
        )
    yield engine
    engine.dispose()


def stored(engine: Engine) -> dict[int, tuple[str | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(movies.c.movie_id, movies.c.poster_path, movies.c.overview))
        return {r.movie_id: (r.poster_path, r.overview) for r in rows}


def test_enrich_stores_posters_and_missing_overviews(engine: Engine, tmdb: str) -> None:
    result = enrich(engine, "k", api_base=tmdb, concurrency=2)
    assert (result.checked, result.updated, result.unknown, result.failed) == (3, 2, 1, 0)
    assert stored(engine) == {
        1: ("/toy-story.jpg", "Toys come alive."),
        260: ("/star-wars.jpg", "Kept"),  # an existing overview is kept
        5: (None, None),
        6: (None, None),
    }
    assert sum("/movie/11?" in c for c in FakeTmdb.calls) == 2  # retried after the 429

    again = enrich(engine, "k", api_base=tmdb)  # only movies still without a poster
    assert (again.checked, again.updated) == (1, 0)
    refreshed = enrich(engine, "k", api_base=tmdb, refresh=True)
    assert refreshed.updated == 2
    assert stored(engine)[260] == ("/star-wars.jpg", "A farm boy joins a rebellion.")


def test_enrich_with_a_bad_key_changes_nothing(engine: Engine, tmdb: str) -> None:
    result = enrich(engine, "wrong", api_base=tmdb)
    assert (result.updated, result.failed) == (0, 3)
    assert all(v == (None, v[1]) for v in stored(engine).values())
