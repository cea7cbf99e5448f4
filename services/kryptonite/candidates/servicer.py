"""``kryptonite.v1.CandidatesService``: validation, then retrieval off the event loop."""

from __future__ import annotations

import grpc

from kryptonite.candidates.retrieval import CandidateModels, Query, is_cold, quotas_for, retrieve
from kryptonite.reasons import generic_text
from kryptonite.rpc.errors import InvalidArgument
from kryptonite.rpc.generated.v1 import candidates_pb2, candidates_pb2_grpc, common_pb2
from kryptonite.rpc.validation import check_ids, check_limit
from kryptonite.serving.model_holder import ModelHolder
from kryptonite.serving.service import off_loop

DEFAULT_LIMIT = 300
MAX_LIMIT = 2000
MAX_IDS = 5000
VALID_SOURCES = frozenset(common_pb2.CandidateSource.values()) - {0}


def parse(request: candidates_pb2.GetCandidatesRequest) -> Query:
    """A validated :class:`Query`; INVALID_ARGUMENT on bad ids, limits or sources."""
    if request.user_id < 0:
        raise InvalidArgument(f"user_id must be >= 0, got {request.user_id}")
    limit = check_limit(request.limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    requested: dict[int, int] = {}
    for quota in request.sources:
        if quota.source not in VALID_SOURCES:
            raise InvalidArgument(f"sources: invalid source {quota.source}")
        name = common_pb2.CandidateSource.Name(quota.source)
        if quota.source in requested:
            raise InvalidArgument(f"sources: {name} given twice")
        requested[quota.source] = check_limit(
            quota.limit, default=0, maximum=MAX_LIMIT, field=f"sources[{name}].limit"
        )
    return Query(
        user_id=request.user_id,
        recent=check_ids(request.recent_movie_ids, field="recent_movie_ids", maximum=MAX_IDS),
        listed=check_ids(request.list_movie_ids, field="list_movie_ids", maximum=MAX_IDS),
        limit=limit,
        quotas=quotas_for(limit, requested),
        exclude=check_ids(request.exclude_movie_ids, field="exclude_movie_ids", maximum=MAX_IDS),
    )


class CandidatesServicer(candidates_pb2_grpc.CandidatesServiceServicer):
    """Reads the current models once per call (hot reload safe)."""

    def __init__(self, holder: ModelHolder[CandidateModels]) -> None:
        self.holder = holder

    async def GetCandidates(
        self, request: candidates_pb2.GetCandidatesRequest, context: grpc.aio.ServicerContext
    ) -> candidates_pb2.GetCandidatesResponse:
        query = parse(request)
        loaded = self.holder.get()
        found = await off_loop(retrieve, loaded.bundle, query)
        return candidates_pb2.GetCandidatesResponse(
            candidates=[
                common_pb2.ScoredMovie(
                    movie_id=c.movie_id,
                    score=c.score,
                    source=c.source,
                    reason=common_pb2.Reason(
                        kind=c.kind, anchor_movie_id=c.anchor, text=generic_text(c.kind)
                    ),
                )
                for c in found
            ],
            model_version=loaded.version,
            cold_start=is_cold(loaded.bundle, query.user_id),
        )
