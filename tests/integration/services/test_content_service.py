"""ContentService over gRPC with a real content model."""

from __future__ import annotations

import grpc
import pytest

from kryptonite.rpc.generated.v1 import common_pb2, content_pb2

TOY_STORY, JUMANJI, HEAT = 1, 2, 6


async def test_similar_movies(services) -> None:
    reply = await services.content_client.similar_movies(
        content_pb2.SimilarMoviesRequest(movie_id=TOY_STORY, limit=10)
    )
    ids = [m.movie_id for m in reply.movies]
    assert len(ids) == 10 and TOY_STORY not in ids and len(set(ids)) == 10
    scores = [m.score for m in reply.movies]
    assert scores == sorted(scores, reverse=True)
    assert all(m.reason.kind == common_pb2.REASON_KIND_SIMILAR for m in reply.movies)
    assert all(m.reason.anchor_movie_id == TOY_STORY for m in reply.movies)
    assert reply.model_version.startswith("content@")


async def test_similar_movies_default_limit(services) -> None:
    reply = await services.content_client.similar_movies(
        content_pb2.SimilarMoviesRequest(movie_id=HEAT)
    )
    assert len(reply.movies) == 20


async def test_recommend_for_movies(services) -> None:
    seeds = [TOY_STORY, JUMANJI, 999_999_999]
    reply = await services.content_client.recommend_for_movies(
        content_pb2.RecommendForMoviesRequest(movie_ids=seeds, limit=15, exclude_movie_ids=[3114])
    )
    ids = [m.movie_id for m in reply.movies]
    assert len(ids) == 15 and not set(ids) & {TOY_STORY, JUMANJI, 3114}
    assert list(reply.unknown_movie_ids) == [999_999_999]
    assert {m.reason.anchor_movie_id for m in reply.movies} <= {TOY_STORY, JUMANJI}
    assert all(m.reason.kind == common_pb2.REASON_KIND_BECAUSE_LISTED for m in reply.movies)


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (content_pb2.SimilarMoviesRequest(movie_id=0), grpc.StatusCode.INVALID_ARGUMENT),
        (content_pb2.SimilarMoviesRequest(movie_id=1, limit=-1), grpc.StatusCode.INVALID_ARGUMENT),
        (
            content_pb2.SimilarMoviesRequest(movie_id=1, limit=10**6),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (content_pb2.SimilarMoviesRequest(movie_id=999_999_999), grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_similar_movies_errors(services, request_, code) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.content_client.similar_movies(request_)
    assert err.value.code() == code and err.value.details()


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (content_pb2.RecommendForMoviesRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (
            content_pb2.RecommendForMoviesRequest(movie_ids=[1, -5]),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (content_pb2.RecommendForMoviesRequest(movie_ids=[999_999_998]), grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_recommend_for_movies_errors(services, request_, code) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.content_client.recommend_for_movies(request_)
    assert err.value.code() == code and err.value.details()
