"""``kryptonite.v1.ContentService``: similar movies and cold-start recommendations."""

from __future__ import annotations

import grpc

from kryptonite.models.content import ContentModel
from kryptonite.rpc.errors import InvalidArgument, NotFound
from kryptonite.rpc.generated.v1 import common_pb2, content_pb2, content_pb2_grpc
from kryptonite.rpc.validation import check_id, check_ids, check_limit
from kryptonite.serving.hits import scored_movies
from kryptonite.serving.model_holder import ModelHolder
from kryptonite.serving.service import off_loop
from kryptonite.serving.similarity import recommend_for_movies, similar_movies

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
MAX_IDS = 1000  # seeds
MAX_EXCLUDE = 5000  # what a heavy user has seen (the gateway excludes it all)


class ContentServicer(content_pb2_grpc.ContentServiceServicer):
    """Reads the current content model once per call (hot reload safe)."""

    def __init__(self, holder: ModelHolder[ContentModel]) -> None:
        self.holder = holder

    async def SimilarMovies(
        self, request: content_pb2.SimilarMoviesRequest, context: grpc.aio.ServicerContext
    ) -> content_pb2.SimilarMoviesResponse:
        movie_id = check_id(request.movie_id, field="movie_id")
        limit = check_limit(request.limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        loaded = self.holder.get()
        hits = await off_loop(similar_movies, loaded.bundle, movie_id, limit)
        if hits is None:
            raise NotFound(f"unknown movie {movie_id}")
        return content_pb2.SimilarMoviesResponse(
            movies=scored_movies(
                hits,
                source=common_pb2.CANDIDATE_SOURCE_CONTENT,
                kind=common_pb2.REASON_KIND_SIMILAR,
            ),
            model_version=loaded.version,
        )

    async def RecommendForMovies(
        self, request: content_pb2.RecommendForMoviesRequest, context: grpc.aio.ServicerContext
    ) -> content_pb2.RecommendForMoviesResponse:
        seeds = check_ids(request.movie_ids, field="movie_ids", maximum=MAX_IDS)
        if not seeds:
            raise InvalidArgument("movie_ids: at least one movie is required")
        exclude = check_ids(
            request.exclude_movie_ids, field="exclude_movie_ids", maximum=MAX_EXCLUDE
        )
        limit = check_limit(request.limit, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        loaded = self.holder.get()
        model = loaded.bundle
        index = model.items.index(seeds)
        unknown = [m for m, i in zip(seeds, index, strict=True) if i < 0]
        if len(unknown) == len(seeds):
            raise NotFound(f"none of the movies is known: {unknown[:5]}")
        hits = await off_loop(recommend_for_movies, model, seeds, limit, exclude)
        return content_pb2.RecommendForMoviesResponse(
            movies=scored_movies(
                hits,
                source=common_pb2.CANDIDATE_SOURCE_CONTENT,
                kind=common_pb2.REASON_KIND_BECAUSE_LISTED,
            ),
            model_version=loaded.version,
            unknown_movie_ids=unknown,
        )
