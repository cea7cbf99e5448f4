"""The three services in-process, behind the gateway's client interface.

Precompute and the offline evaluation answer with the gateway's own orchestration
(:class:`kryptonite.gateway.recommend.Orchestrator`); these adapters replace only the
transport: each call goes to the real servicer with the same request message, so a
precomputed list is the list a live request would get for the same user state and model
versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from kryptonite.candidates.retrieval import MODEL_TYPES as CANDIDATE_TYPES
from kryptonite.candidates.retrieval import build_models
from kryptonite.candidates.servicer import CandidatesServicer
from kryptonite.content.main import MODEL_TYPES as CONTENT_TYPES
from kryptonite.content.main import build_bundle as build_content
from kryptonite.content.servicer import ContentServicer
from kryptonite.models.base import Recommender
from kryptonite.ranking.scoring import MODEL_TYPES as RANKING_TYPES
from kryptonite.ranking.scoring import build_ranking
from kryptonite.ranking.servicer import RankingServicer
from kryptonite.rpc.errors import status_for
from kryptonite.serving.model_holder import Loaded, ModelHolder
from kryptonite.store.artifacts import ArtifactStore


class _Local:
    async def close(self) -> None:
        return None


async def _call(method: Any, request: Any) -> Any:
    """The servicer's answer, or the ``AioRpcError`` a remote caller would get (the same
    status mapping as the server's interceptor), so the gateway reacts the same way."""
    try:
        return await method(request, None)
    except Exception as exc:
        code, details = status_for(exc)
        empty = grpc.aio.Metadata()
        raise grpc.aio.AioRpcError(code, empty, empty, details) from exc


@dataclass
class LocalCandidates(_Local):
    servicer: CandidatesServicer

    async def get_candidates(self, request: Any, *, timeout_s: float | None = None) -> Any:
        return await _call(self.servicer.GetCandidates, request)


@dataclass
class LocalRanking(_Local):
    servicer: RankingServicer

    async def rank(self, request: Any, *, timeout_s: float | None = None) -> Any:
        return await _call(self.servicer.Rank, request)


@dataclass
class LocalContent(_Local):
    servicer: ContentServicer

    async def similar_movies(self, request: Any, *, timeout_s: float | None = None) -> Any:
        return await _call(self.servicer.SimilarMovies, request)

    async def recommend_for_movies(self, request: Any, *, timeout_s: float | None = None) -> Any:
        return await _call(self.servicer.RecommendForMovies, request)


@dataclass
class LocalServices:
    candidates: LocalCandidates
    ranking: LocalRanking
    content: LocalContent
    versions: dict[str, str]


class _Fixed(ModelHolder):
    """A holder whose snapshot is given (models already in memory: evaluation)."""

    def __init__(self, loaded: Loaded) -> None:
        self._current = loaded


def from_models(
    models: Mapping[str, Recommender], versions: Mapping[str, str], diversity: float
) -> LocalServices:
    """Services over models already in memory (``versions``: type -> version label)."""

    def holder(types, build):
        present = [t for t in types if t in models]
        return _Fixed(
            Loaded(build({t: models[t] for t in present}), {t: versions[t] for t in present})
        )

    return LocalServices(
        LocalCandidates(CandidatesServicer(holder(CANDIDATE_TYPES, build_models))),
        LocalRanking(RankingServicer(holder(RANKING_TYPES, build_ranking), diversity)),
        LocalContent(ContentServicer(holder(CONTENT_TYPES, build_content))),
        dict(versions),
    )


async def from_store(store: ArtifactStore, diversity: float) -> LocalServices:
    """Services over the latest published versions, loaded as the real services load
    them (the same holders and bundle builders)."""
    holders = {
        "candidates": ModelHolder(store, CANDIDATE_TYPES, build_models),
        "ranking": ModelHolder(store, RANKING_TYPES, build_ranking),
        "content": ModelHolder(store, CONTENT_TYPES, build_content),
    }
    for name, holder in holders.items():
        if not await holder.refresh():
            missing = ", ".join(holder.model_types)
            raise LookupError(f"{name}: no published version of every model it needs ({missing})")
    versions: dict[str, str] = {}
    for holder in holders.values():
        versions.update(holder.get().versions)
    return LocalServices(
        LocalCandidates(CandidatesServicer(holders["candidates"])),
        LocalRanking(RankingServicer(holders["ranking"], diversity)),
        LocalContent(ContentServicer(holders["content"])),
        versions,
    )
