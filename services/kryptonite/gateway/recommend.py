"""Recommendation orchestration: cache → history → candidates → ranking → filter →
diversify → reasons → cache, with a degraded answer for every downstream failure."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import grpc
from sqlalchemy.exc import SQLAlchemyError

from kryptonite.gateway.hints import downstream_cause, row_hint
from kryptonite.gateway.schemas import RecItem, RecList, Strategy
from kryptonite.gateway.state import GatewayState
from kryptonite.reasons import anchored_text, generic_text
from kryptonite.rpc.generated.v1 import candidates_pb2, common_pb2, content_pb2, ranking_pb2
from kryptonite.serving.config import ServedConfig
from kryptonite.store import queries
from kryptonite.store.cache import CacheError

log = logging.getLogger("kryptonite.gateway.recommend")

SOURCE_NAMES = {
    common_pb2.CANDIDATE_SOURCE_MF: "mf",
    common_pb2.CANDIDATE_SOURCE_ITEM2ITEM: "item2item",
    common_pb2.CANDIDATE_SOURCE_CONTENT: "content",
    common_pb2.CANDIDATE_SOURCE_POPULAR: "popular",
    common_pb2.CANDIDATE_SOURCE_ITEM_RIDGE: "item_ridge",
}
#: Single-source strategies served by the candidates service alone.
_SINGLE_SOURCE = {
    Strategy.cf: common_pb2.CANDIDATE_SOURCE_MF,
    Strategy.item2item: common_pb2.CANDIDATE_SOURCE_ITEM2ITEM,
}
#: Keep a cached list at least this long so different ``limit``s share one entry.
_MIN_DEPTH = 50


@dataclass
class Item:
    movie_id: int
    score: float
    source: str
    kind: int = common_pb2.REASON_KIND_UNSPECIFIED
    anchor: int = 0
    text: str = ""


@dataclass
class UserContext:
    user_id: int
    recent: list[int] = field(default_factory=list)
    listed: list[int] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    low_rated: set[int] = field(default_factory=set)  # never named as a reason
    db_ok: bool = True


_ANCHORED = (common_pb2.REASON_KIND_BECAUSE_LISTED, common_pb2.REASON_KIND_BECAUSE_WATCHED)


def _from_scored(movies, default_source: str, ctx: UserContext | None = None) -> list[Item]:
    """Items of scored movies. With the user's context, a reason tells the truth about
    its anchor: "added" only for a movie on the list, "watched" for one watched or rated,
    and an anchor the user rated low (or took off the list) is dropped."""
    low = ctx.low_rated if ctx is not None else set()
    listed = set(ctx.listed) if ctx is not None else set()
    out = []
    for m in movies:
        anchor, kind = int(m.reason.anchor_movie_id), m.reason.kind
        if anchor in low:
            anchor, kind = 0, common_pb2.REASON_KIND_PERSONALIZED
        elif ctx is not None and anchor and kind in _ANCHORED:
            kind = _ANCHORED[0] if anchor in listed else _ANCHORED[1]
        out.append(
            Item(
                movie_id=int(m.movie_id),
                score=float(m.score),
                source=SOURCE_NAMES.get(m.source, default_source),
                kind=kind,
                anchor=anchor,
                text=m.reason.text
                if (anchor, kind) == (m.reason.anchor_movie_id, m.reason.kind)
                else "",
            )
        )
    return out


class Orchestrator:
    """Serves one user's list for a strategy; see the module docstring."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state
        self.settings = state.settings
        self.served = ServedConfig.from_settings(state.settings)

    # ------------------------------------------------------------------ entry
    async def recommend(
        self, user_id: int, strategy: Strategy, limit: int, *, fresh: bool = False
    ) -> bytes:
        """The response body (JSON bytes) of one user's list.

        The cache holds, per user, the list at depth >= 50 (``<strategy>:<version>``) and
        the finished response of each ``limit`` asked for (``...:<limit>``), so a hit is
        one HGET returned as is. ``fresh`` computes (and caches) without reading the
        cache: precompute fills the cache through this same path.
        """
        metrics = self.state.metrics
        version = self.state.catalog.model_version
        base = f"{strategy.value}:{version}"
        exact = f"{base}:{limit}"
        cache_ok = True
        full, generation = None, None  # generation: refuse our store after a newer write
        try:
            body, generation = await self.state.cache.lookup(user_id, exact)
            if fresh:  # precompute: compute anew, but keep the generation it read
                body = None
            elif body is None:  # only then fetch the (larger) full-depth list
                full = await self.state.cache.get(user_id, base)
        except CacheError:
            cache_ok, body = False, None
            metrics.downstream_failures.labels("cache").inc()
        if body is not None:
            metrics.served(strategy.value, "hit")
            return body
        if full is not None:
            cached = RecList.model_validate_json(full)
            if len(cached.items) >= limit or limit <= _MIN_DEPTH:
                metrics.served(strategy.value, "hit")
                body = _respond(cached, limit, cached=True)
                await self._store(user_id, {exact: body}, generation)
                return body
        result = await self.compute_list(user_id, strategy, limit, version)
        outcome = "degraded" if result.degraded else "miss"
        metrics.served(strategy.value, outcome)
        if not result.degraded and cache_ok:
            await self._store(
                user_id,
                {
                    base: result.model_dump_json().encode(),
                    exact: _respond(result, limit, cached=True),
                },
                generation,
            )
        return _respond(result, limit, cached=False)

    async def compute_list(
        self, user_id: int, strategy: Strategy, limit: int, version: str
    ) -> RecList:
        """One user's list, computed (no cache): context, stages, filter, render."""
        return await self.compute_for(await self._context(user_id), strategy, limit, version)

    async def compute_for(
        self, ctx: UserContext, strategy: Strategy, limit: int, version: str
    ) -> RecList:
        """The list for a given user state (the offline evaluation passes its own)."""
        user_id = ctx.user_id
        depth = cached_depth(limit)
        items, degraded, version_out = await self._compute(ctx, strategy, depth)
        causes = [c for c in (degraded, None if ctx.db_ok else "database_unavailable") if c]
        rendered = await self._render(ctx, items[:depth])
        if strategy is Strategy.blend and not degraded:
            rendered = diversify(rendered)
        return RecList(
            user_id=user_id,
            strategy=strategy,
            model_version=version_out or version,
            degraded=bool(causes),
            degraded_reason=",".join(causes) or None,
            items=rendered,
            # why the row is empty/generic and what to do (gateway/hints.py)
            hint=row_hint(
                strategy,
                has_history=bool(ctx.seen) or not ctx.db_ok,
                items=rendered,
                degraded=bool(causes),
            ),
        )

    async def _store(self, user_id: int, fields: dict[str, bytes], generation: int | None) -> None:
        gens = None if generation is None else {user_id: generation}
        try:
            await self.state.cache.put_many({user_id: fields}, self.settings.cache_ttl_s, gens)
        except CacheError:
            self.state.metrics.downstream_failures.labels("cache").inc()

    async def similar(self, movie_id: int, limit: int) -> tuple[list[RecItem], bool]:
        """Content neighbours of a movie; same-genre popular movies if content is down."""
        try:
            reply = await self.state.content.similar_movies(
                content_pb2.SimilarMoviesRequest(movie_id=movie_id, limit=limit)
            )
            items, degraded = _from_scored(reply.movies, "content"), False
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise
            self.state.metrics.downstream_failures.labels("content").inc()
            items, degraded = await self._genre_popular([movie_id], {movie_id}, limit), True
        for item in items:
            if not item.anchor:
                item.kind, item.anchor = common_pb2.REASON_KIND_SIMILAR, movie_id
        return await self._render(UserContext(0), items[:limit]), degraded

    # ------------------------------------------------------------------ steps
    async def _context(self, user_id: int) -> UserContext:
        ctx = UserContext(user_id)
        try:
            async with self.state.read() as conn:
                found = await queries.history(conn, user_id, self.served.history)
                hidden = {m for m, _ in await queries.not_interested(conn, user_id)}
            ctx.recent, ctx.listed = found.recent, found.listed
            ctx.seen, ctx.low_rated = found.seen, found.low_rated
            ctx.seen |= hidden  # "not interested": never shown again
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("history of user %s unavailable: %s", user_id, type(exc).__name__)
            self.state.metrics.downstream_failures.labels("database").inc()
            ctx.db_ok = False
        ctx.seen |= set(ctx.listed)
        return ctx

    async def _compute(
        self, ctx: UserContext, strategy: Strategy, n: int
    ) -> tuple[list[Item], str | None, str]:
        """(items best first, degraded cause or None, model version)."""
        if strategy is Strategy.popular:
            return self._popular(ctx, n), None, ""
        if strategy is Strategy.content:
            return await self._content_or_fallback(ctx, n)
        sources = [_SINGLE_SOURCE[strategy]] if strategy in _SINGLE_SOURCE else []
        try:
            cands = await self._candidates(ctx, sources, self.served.candidates)
        except grpc.aio.AioRpcError as exc:
            self.state.metrics.downstream_failures.labels("candidates").inc()
            items, _, version = await self._content_or_fallback(ctx, n)
            return items, downstream_cause("candidates", exc.code()), version
        items, version = _from_scored(cands.candidates, "popular", ctx), cands.model_version
        if sources:  # single-source strategies: no ranking stage
            return self._filter(ctx, items)[:n], None, version
        blend = strategy is Strategy.blend
        diversity = self.served.diversity if blend else 0.0
        model = ranking_pb2.RANK_MODEL_STAGE_TWO if blend else ranking_pb2.RANK_MODEL_NEUMF
        try:
            ranked = await self._rank(ctx, cands.candidates, n, diversity, model)
        except grpc.aio.AioRpcError as exc:
            self.state.metrics.downstream_failures.labels("ranking").inc()
            return self._filter(ctx, items)[:n], downstream_cause("ranking", exc.code()), version
        ranked_items = self._filter(ctx, _from_scored(ranked.items, "mf", ctx))
        return ranked_items[:n], None, f"{version}+{ranked.model_version}"

    async def _candidates(self, ctx: UserContext, sources: list[int], limit: int):
        """Stage one. A single-source row ("because you liked") seeds only from movies the
        user liked; the blend sends the whole history, as its ranker was trained on."""
        recent = [m for m in ctx.recent if m not in ctx.low_rated] if sources else ctx.recent
        return await self.state.candidates.get_candidates(
            candidates_pb2.GetCandidatesRequest(
                user_id=ctx.user_id,
                recent_movie_ids=recent,
                list_movie_ids=ctx.listed,
                limit=limit,
                sources=[candidates_pb2.SourceQuota(source=s, limit=limit) for s in sources],
                exclude_movie_ids=sorted(ctx.seen),
            )
        )

    async def _rank(self, ctx: UserContext, candidates, n: int, diversity: float, model: int):
        return await self.state.ranking.rank(
            ranking_pb2.RankRequest(
                user_id=ctx.user_id,
                candidates=[
                    ranking_pb2.RankCandidate(
                        movie_id=c.movie_id, retrieval_score=c.score, source=c.source
                    )
                    for c in candidates
                ],
                limit=n,
                diversity=diversity,
                recent_movie_ids=ctx.recent,
                list_movie_ids=ctx.listed,
                low_rated_movie_ids=sorted(ctx.low_rated),
                model=model,
            )
        )

    async def _content_or_fallback(
        self, ctx: UserContext, n: int
    ) -> tuple[list[Item], str | None, str]:
        liked = [m for m in ctx.recent if m not in ctx.low_rated]
        seeds = list(dict.fromkeys([*ctx.listed, *liked]))[:50]
        if not seeds:
            return self._popular(ctx, n), None, ""
        try:
            reply = await self.state.content.recommend_for_movies(
                content_pb2.RecommendForMoviesRequest(
                    movie_ids=seeds, limit=n, exclude_movie_ids=sorted(ctx.seen)
                )
            )
        except grpc.aio.AioRpcError as exc:
            self.state.metrics.downstream_failures.labels("content").inc()
            items = await self._genre_popular(seeds, ctx.seen, n, listed=set(ctx.listed))
            return items, downstream_cause("content", exc.code()), ""
        return (
            self._filter(ctx, _from_scored(reply.movies, "content", ctx))[:n],
            None,
            reply.model_version,
        )

    def _popular(self, ctx: UserContext, n: int) -> list[Item]:
        return [
            Item(m, s, "popular", common_pb2.REASON_KIND_POPULAR)
            for m, s in self.state.catalog.popular
            if m not in ctx.seen
        ][:n]

    async def _genre_popular(
        self, seeds: list[int], exclude: set[int], n: int, listed: set[int] | None = None
    ) -> list[Item]:
        """Popular movies sharing the seeds' genres (needs no downstream service)."""
        catalog = self.state.catalog
        seed_genres = {s: catalog.genres.get(s) for s in seeds}
        missing = [s for s, g in seed_genres.items() if g is None]
        if missing:
            try:
                async with self.state.read() as conn:
                    seed_genres.update(await queries.movie_genre_map(conn, missing))
            except (SQLAlchemyError, OSError, TimeoutError):
                pass
        weights: dict[str, float] = {}
        for genres in seed_genres.values():
            for g in genres or ():
                weights[g] = weights.get(g, 0.0) + 1.0
        if not weights:
            return [
                Item(m, s, "popular", common_pb2.REASON_KIND_POPULAR)
                for m, s in catalog.popular
                if m not in exclude
            ][:n]
        out = []
        for movie_id, pop in catalog.popular:
            if movie_id in exclude:
                continue
            genres = catalog.genres.get(movie_id, set())
            overlap = sum(weights.get(g, 0.0) for g in genres) / (len(genres) or 1)
            if overlap <= 0:
                continue
            anchor = max(
                seed_genres, key=lambda s: len((seed_genres[s] or set()) & genres), default=0
            )
            kind = (
                common_pb2.REASON_KIND_BECAUSE_LISTED
                if listed and anchor in listed
                else common_pb2.REASON_KIND_BECAUSE_WATCHED
            )
            out.append(Item(movie_id, overlap * math.log1p(pop), "content", kind, anchor))
        out.sort(key=lambda i: (-i.score, i.movie_id))
        return out[:n]

    @staticmethod
    def _filter(ctx: UserContext, items: list[Item]) -> list[Item]:
        seen, out = set(ctx.seen), []
        for item in items:
            if item.movie_id not in seen:
                seen.add(item.movie_id)
                out.append(item)
        return out

    async def _render(self, ctx: UserContext, items: list[Item]) -> list[RecItem]:
        """Titles of items and anchors; reason text ("Because you added Alien")."""
        ids = [i.movie_id for i in items] + [i.anchor for i in items if i.anchor]
        cards: dict[int, dict] = {}
        try:
            async with self.state.read() as conn:
                cards = await queries.movie_cards(conn, ids)
        except (SQLAlchemyError, OSError, TimeoutError):
            self.state.metrics.downstream_failures.labels("database").inc()
        out = []
        for item in items:
            card = cards.get(item.movie_id, {"movie_id": item.movie_id})
            anchor_title = cards.get(item.anchor, {}).get("title") if item.anchor else None
            out.append(
                RecItem(
                    **card,
                    score=round(item.score, 6),
                    source=item.source,
                    reason=reason_text(item, anchor_title),
                    anchor_movie_id=item.anchor or None,
                )
            )
        return out


def _respond(result: RecList, limit: int, *, cached: bool) -> bytes:
    return (
        result.model_copy(update={"items": result.items[:limit], "cached": cached})
        .model_dump_json()
        .encode()
    )


def cached_depth(limit: int) -> int:
    return max(limit, _MIN_DEPTH)


def reason_text(item: Item, anchor_title: str | None) -> str:
    """The item's reason naming its anchor where the kind has one and its title is known,
    else the service's text, else the generic text of popular or personalized picks."""
    named = anchored_text(item.kind, anchor_title) if anchor_title else None
    if named:
        return named
    if item.text:
        return item.text
    popular = item.kind == common_pb2.REASON_KIND_POPULAR or item.source == "popular"
    return generic_text(
        common_pb2.REASON_KIND_POPULAR if popular else common_pb2.REASON_KIND_PERSONALIZED
    )


def diversify(items: list[RecItem], window: int = 10, max_same: int = 4) -> list[RecItem]:
    """Greedy re-order: among any ``window`` consecutive items at most ``max_same`` share
    the same genre combination (the best remaining item is taken when none fits). The
    ranking service's MMR did the fine-grained work; this is a guard on the visible list."""
    remaining, out = list(items), []
    while remaining:
        recent = [frozenset(i.genres) for i in out[-(window - 1) :]] if window > 1 else []
        pick = next(
            (i for i in remaining if recent.count(frozenset(i.genres)) < max_same), remaining[0]
        )
        remaining.remove(pick)
        out.append(pick)
    return out
