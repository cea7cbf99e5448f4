"""Bulk upsert keeps every byte of awkward text and merges by primary key."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from kryptonite.store import tables as t
from kryptonite.store.bulk import upsert_frame

AWKWARD = ["tab\there", "new\nline", "back\\slash", "quote \" ' `", "émoji 🎬", "\\N", "NULL"]


def _movies(engine: Engine) -> dict[int, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(t.movies.c.movie_id, t.movies.c.title, t.movies.c.overview))
        return {r.movie_id: (r.title, r.overview) for r in rows}


def test_awkward_text_round_trips(migrated_engine: Engine) -> None:
    frame = pd.DataFrame(
        {
            "movie_id": range(1, len(AWKWARD) + 1),
            "title": AWKWARD,
            "year": pd.array([None, *range(2000, 2000 + len(AWKWARD) - 1)], dtype="Int64"),
            "overview": [None, *AWKWARD[1:]],
        }
    )
    with migrated_engine.begin() as conn:
        upsert_frame(conn, t.movies, frame, update=("title",))
    stored = _movies(migrated_engine)
    assert [stored[i][0] for i in range(1, len(AWKWARD) + 1)] == AWKWARD
    assert stored[1][1] is None and stored[2][1] == "new\nline"


def test_upsert_updates_and_keeps_existing(migrated_engine: Engine) -> None:
    first = pd.DataFrame({"movie_id": [1, 2], "title": ["A", "B"], "overview": ["a", "b"]})
    second = pd.DataFrame({"movie_id": [2, 3], "title": ["B2", "C"], "overview": [None, "c"]})
    with migrated_engine.begin() as conn:
        upsert_frame(conn, t.movies, first, update=("title",), keep_existing=("overview",))
    with migrated_engine.begin() as conn:  # the table is not empty now: the merge path
        upsert_frame(conn, t.movies, second, update=("title",), keep_existing=("overview",))
    assert _movies(migrated_engine) == {1: ("A", "a"), 2: ("B2", "b"), 3: ("C", "c")}
