"""The deployed pipeline for offline evaluation: the gateway's own orchestration over the
three services in-process, with the deployed settings (:class:`ServedConfig`).

Models come from memory (fitted on the evaluation's training split); the catalog the
gateway renders from (titles, genres: the blend's genre guard reads them) is a temporary
SQLite database made with the real schema, so every step of a served answer — retrieval,
ranking, MMR, filters, genre guard — runs as it does in production.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert

from kryptonite.config import Settings
from kryptonite.gateway.metrics import GatewayMetrics
from kryptonite.gateway.recommend import Orchestrator, UserContext
from kryptonite.gateway.schemas import Strategy
from kryptonite.gateway.state import open_state
from kryptonite.models.base import Recommender as Model
from kryptonite.serving import inprocess
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.migrate import upgrade
from kryptonite.store.tables import genres, movie_genres, movies


@dataclass(frozen=True)
class UserState:
    """What the gateway would read of a user: recent (most recent first), the list, what
    was seen and what was rated low."""

    user_id: int
    recent: Sequence[int]
    listed: Sequence[int] = ()
    seen: frozenset[int] = field(default_factory=frozenset)
    low_rated: frozenset[int] = field(default_factory=frozenset)


def _catalog_db(path: Path, frame: pd.DataFrame) -> str:
    """A SQLite file with the schema and the movies (+ genres) of ``frame``."""
    url = f"sqlite:///{path}"
    engine = create_sync_engine(url)
    upgrade(engine)
    names = sorted({str(g) for gs in frame["genres"] for g in gs})
    gid = {g: i for i, g in enumerate(names, start=1)}
    rows = [
        {
            "movie_id": int(r.movie_id),
            "title": str(r.title),
            "year": None if pd.isna(r.year) else int(r.year),
        }
        for r in frame[["movie_id", "title", "year"]].itertuples(index=False)
    ]
    links = [
        {"movie_id": int(m), "genre_id": gid[str(g)]}
        for m, gs in zip(frame["movie_id"], frame["genres"], strict=True)
        for g in gs
    ]
    with engine.begin() as conn:
        if names:
            conn.execute(insert(genres), [{"genre_id": i, "name": g} for g, i in gid.items()])
        conn.execute(insert(movies), rows)
        if links:
            conn.execute(insert(movie_genres), links)
    engine.dispose()
    return url


class ServedPipeline:
    """``lists(states, n)``: the served answer for each user state, best first."""

    def __init__(
        self,
        models: Mapping[str, Model],
        movies_frame: pd.DataFrame,
        settings: Settings | None = None,
        *,
        workdir: Path | None = None,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="kryptonite-served-")
        root = Path(workdir or self._tmp.name)
        base = settings or Settings()
        self.settings = base.model_copy(
            update={
                "database_url": _catalog_db(root / "catalog.sqlite", movies_frame),
                "redis_url": None,
            }
        )
        versions = dict.fromkeys(models, "offline")
        self.services = inprocess.from_models(models, versions, self.settings.ranking_diversity)
        popularity = models["popularity"]
        order = np.argsort(-popularity.item_scores, kind="stable")[:2000]  # type: ignore[attr-defined]
        self.popular = [
            (int(popularity.items.ids[i]), float(popularity.item_scores[i]))  # type: ignore[attr-defined]
            for i in order
        ]

    def lists(
        self, states: Sequence[UserState], n: int, strategy: Strategy = Strategy.blend
    ) -> list[list[int]]:
        """Movie ids of each user's served list (at most ``n``)."""
        return asyncio.run(self._lists(states, n, strategy))

    def candidates(self, states: Sequence[UserState], n: int | None = None) -> list[list[int]]:
        """Stage one's candidates for each user, as the gateway asks for them (``n`` of them:
        default the deployed count)."""
        return asyncio.run(self._candidates(states, n))

    async def _open(self, candidates: int | None = None) -> tuple[Orchestrator, object]:
        settings = self.settings
        if candidates is not None:
            settings = settings.model_copy(update={"gateway_candidates": candidates})
        state = open_state(settings, GatewayMetrics(), self.services)
        state.catalog.popular = self.popular
        state.catalog.model_version = "offline"
        state.catalog.loaded = True
        return Orchestrator(state), state

    async def _lists(self, states, n: int, strategy: Strategy) -> list[list[int]]:
        rec, state = await self._open()
        try:
            out = []
            for s in states:
                ctx = _context(s)
                result = await rec.compute_for(ctx, strategy, n, "offline")
                if result.degraded:
                    raise RuntimeError(f"served pipeline degraded: {result.degraded_reason}")
                out.append([item.movie_id for item in result.items[:n]])
            return out
        finally:
            await state.close()  # type: ignore[attr-defined]

    async def _candidates(self, states, n: int | None) -> list[list[int]]:
        rec, state = await self._open(n)
        try:
            out = []
            for s in states:
                reply = await rec._candidates(_context(s), [], rec.served.candidates)
                out.append([int(c.movie_id) for c in reply.candidates])
            return out
        finally:
            await state.close()  # type: ignore[attr-defined]

    def close(self) -> None:
        self._tmp.cleanup()


def _context(s: UserState) -> UserContext:
    return UserContext(
        s.user_id,
        recent=list(s.recent),
        listed=list(s.listed),
        seen=set(s.seen) | set(s.listed),
        low_rated=set(s.low_rated),
    )


class ServedRows:
    """The served rows for a persona query (``models.evaluation.personas.Recommend``):
    a brand-new user whose list (or ratings) are the persona's movies."""

    def __init__(self, pipe: ServedPipeline, strategies: Sequence[Strategy]) -> None:
        self.pipe, self.strategies = pipe, tuple(strategies)

    def __call__(self, query) -> dict[str, list[int]]:
        ids = [int(m) for m in query.movie_ids]  # oldest first
        if query.ratings is None:
            state = UserState(0, recent=(), listed=ids[::-1], seen=frozenset(ids))
        else:
            low = frozenset(m for m, r in zip(ids, query.ratings, strict=True) if r < 3)
            state = UserState(0, recent=ids[::-1], seen=frozenset(ids), low_rated=low)
        return {s.value: self.pipe.lists([state], 10, s)[0] for s in self.strategies}
