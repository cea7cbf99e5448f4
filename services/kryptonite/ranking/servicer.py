"""``kryptonite.v1.RankingService``: validation, then stage-two ranking off the event loop."""

from __future__ import annotations

import math

import grpc
import numpy as np

from kryptonite.ranking.scoring import NEUMF, STAGE_TWO, RankingModel, RankQuery, rank
from kryptonite.reasons import generic_text
from kryptonite.rpc.errors import InvalidArgument
from kryptonite.rpc.generated.v1 import common_pb2, ranking_pb2, ranking_pb2_grpc
from kryptonite.rpc.validation import check_ids, check_limit
from kryptonite.serving.model_holder import ModelHolder
from kryptonite.serving.service import off_loop

DEFAULT_LIMIT = 50
MAX_CANDIDATES = 2000
MAX_IDS = 5000


def parse(request: ranking_pb2.RankRequest, default_diversity: float) -> RankQuery:
    """A validated :class:`RankQuery`; INVALID_ARGUMENT on bad ids, limits or diversity."""
    if request.user_id < 0:
        raise InvalidArgument(f"user_id must be >= 0, got {request.user_id}")
    if len(request.candidates) > MAX_CANDIDATES:
        raise InvalidArgument(
            f"candidates: at most {MAX_CANDIDATES}, got {len(request.candidates)}"
        )
    ids = np.fromiter((c.movie_id for c in request.candidates), np.int64, len(request.candidates))
    if (ids <= 0).any():
        raise InvalidArgument(f"candidates: movie ids must be positive, got {ids[ids <= 0][:5]}")
    limit = check_limit(request.limit, default=DEFAULT_LIMIT, maximum=MAX_CANDIDATES)
    diversity = request.diversity if request.HasField("diversity") else default_diversity
    if not (0.0 <= diversity <= 1.0) or math.isnan(diversity):
        raise InvalidArgument(f"diversity must be in [0, 1], got {diversity}")
    _, first = np.unique(ids, return_index=True)
    first.sort()  # first occurrence wins, request order kept
    cands = [request.candidates[int(i)] for i in first]
    return RankQuery(
        user_id=request.user_id,
        movie_ids=ids[first],
        retrieval_scores=np.fromiter((c.retrieval_score for c in cands), np.float32, len(cands)),
        sources=np.fromiter((c.source for c in cands), np.int64, len(cands)),
        limit=limit,
        diversity=float(diversity),
        recent=check_ids(request.recent_movie_ids, field="recent_movie_ids", maximum=MAX_IDS),
        listed=check_ids(request.list_movie_ids, field="list_movie_ids", maximum=MAX_IDS),
        low_rated=check_ids(
            request.low_rated_movie_ids, field="low_rated_movie_ids", maximum=MAX_IDS
        ),
        model=_model(request.model),
    )


def _model(value: int) -> int:
    """The RankModel asked for (unset: the stage-two ranker); INVALID_ARGUMENT if unknown."""
    if value == ranking_pb2.RANK_MODEL_UNSPECIFIED:
        return STAGE_TWO
    if value not in (STAGE_TWO, NEUMF):
        raise InvalidArgument(f"model: unknown RankModel {value}")
    return value


class RankingServicer(ranking_pb2_grpc.RankingServiceServicer):
    """Reads the current model once per call (hot reload safe)."""

    def __init__(self, holder: ModelHolder[RankingModel], default_diversity: float = 0.05) -> None:
        self.holder = holder
        self.default_diversity = default_diversity

    async def Rank(
        self, request: ranking_pb2.RankRequest, context: grpc.aio.ServicerContext
    ) -> ranking_pb2.RankResponse:
        query = parse(request, self.default_diversity)
        loaded = self.holder.get()
        ranked = await off_loop(rank, loaded.bundle, query)
        items = [
            common_pb2.ScoredMovie(
                movie_id=int(m),
                score=float(s),
                source=int(src),
                reason=common_pb2.Reason(
                    kind=int(k), anchor_movie_id=int(a), text=generic_text(int(k))
                ),
            )
            for m, s, src, a, k in zip(
                ranked.ids, ranked.scores, ranked.sources, ranked.anchors, ranked.kinds, strict=True
            )
        ]
        return ranking_pb2.RankResponse(
            items=items,
            model_version=loaded.version,
            fallback=bool(ranked.fallback_reason),
            fallback_reason=ranked.fallback_reason,
        )
