"""CandidatesService over gRPC with real MF (ANN), item-to-item, content and popularity."""

from __future__ import annotations

import grpc
import pytest

from kryptonite.rpc.clients import CandidatesClient
from kryptonite.rpc.generated.v1 import candidates_pb2, common_pb2

Req = candidates_pb2.GetCandidatesRequest
Quota = candidates_pb2.SourceQuota
MF, I2I, CONTENT, POPULAR, RIDGE = (
    common_pb2.CANDIDATE_SOURCE_MF,
    common_pb2.CANDIDATE_SOURCE_ITEM2ITEM,
    common_pb2.CANDIDATE_SOURCE_CONTENT,
    common_pb2.CANDIDATE_SOURCE_POPULAR,
    common_pb2.CANDIDATE_SOURCE_ITEM_RIDGE,
)
RECENT = [1, 260, 1196, 2571]  # Toy Story, Star Wars IV, V, The Matrix
LISTED = [1210, 589]


async def test_known_user_all_sources(services) -> None:
    reply = await services.candidates_client.get_candidates(
        Req(
            user_id=1,
            recent_movie_ids=RECENT,
            list_movie_ids=LISTED,
            limit=200,
            exclude_movie_ids=[296],
        )
    )
    ids = [c.movie_id for c in reply.candidates]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert not set(ids) & {*RECENT, *LISTED, 296}
    assert {c.source for c in reply.candidates} == {MF, I2I, CONTENT, POPULAR, RIDGE}
    assert not reply.cold_start
    assert "mf_implicit@" in reply.model_version and "item2item@" in reply.model_version
    assert "item_ridge@" in reply.model_version
    by_source = {}
    for c in reply.candidates:
        by_source.setdefault(c.source, []).append(c)
    assert all(c.reason.anchor_movie_id in RECENT for c in by_source[I2I])
    assert all(c.reason.kind == common_pb2.REASON_KIND_BECAUSE_WATCHED for c in by_source[I2I])
    assert all(c.reason.anchor_movie_id in LISTED for c in by_source[CONTENT])
    assert all(c.reason.kind == common_pb2.REASON_KIND_POPULAR for c in by_source[POPULAR])
    assert all(c.reason.kind == common_pb2.REASON_KIND_PERSONALIZED for c in by_source[MF])


async def test_quotas(services) -> None:
    reply = await services.candidates_client.get_candidates(
        Req(
            user_id=1,
            recent_movie_ids=RECENT,
            limit=30,
            sources=[Quota(source=I2I, limit=10), Quota(source=POPULAR, limit=20)],
        )
    )
    sources = [c.source for c in reply.candidates]
    assert sources.count(I2I) == 10 and sources.count(POPULAR) == 20


async def test_list_only_user_gets_item2item_from_the_list(services) -> None:
    reply = await services.candidates_client.get_candidates(
        Req(user_id=9_000_002, list_movie_ids=LISTED, limit=20, sources=[Quota(source=I2I)])
    )
    assert len(reply.candidates) == 20 and {c.source for c in reply.candidates} == {I2I}
    assert all(c.reason.anchor_movie_id in LISTED for c in reply.candidates)
    assert all(c.reason.kind == common_pb2.REASON_KIND_BECAUSE_LISTED for c in reply.candidates)
    assert not {c.movie_id for c in reply.candidates} & set(LISTED)


async def test_unseen_user_is_folded_in(services) -> None:
    reply = await services.candidates_client.get_candidates(
        Req(user_id=9_000_001, recent_movie_ids=RECENT, limit=50, sources=[Quota(source=MF)])
    )
    assert reply.cold_start
    assert len(reply.candidates) == 50 and {c.source for c in reply.candidates} == {MF}
    scores = [c.score for c in reply.candidates]
    assert scores == sorted(scores, reverse=True)


async def test_anonymous_without_history_gets_popular(services) -> None:
    reply = await services.candidates_client.get_candidates(Req(limit=40))
    assert reply.cold_start and len(reply.candidates) == 40
    assert {c.source for c in reply.candidates} == {POPULAR}


async def test_default_limit(services) -> None:
    reply = await services.candidates_client.get_candidates(Req(user_id=5))
    assert len(reply.candidates) == 300


@pytest.mark.parametrize(
    "request_",
    [
        Req(user_id=-1),
        Req(user_id=1, limit=-3),
        Req(user_id=1, limit=1_000_000),
        Req(user_id=1, recent_movie_ids=[5, 0]),
        Req(user_id=1, exclude_movie_ids=[-7]),
        Req(user_id=1, sources=[Quota(source=common_pb2.CANDIDATE_SOURCE_UNSPECIFIED)]),
        Req(user_id=1, sources=[Quota(source=42)]),
        Req(user_id=1, sources=[Quota(source=MF), Quota(source=MF)]),
        Req(user_id=1, sources=[Quota(source=MF, limit=-1)]),
    ],
)
async def test_invalid_arguments(services, request_) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.candidates_client.get_candidates(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and err.value.details()


async def test_oversized_request_rejected(services) -> None:
    """Bigger than the server's message limit: rejected by gRPC before the servicer runs."""
    port = services.candidates.server.port
    huge = Req(user_id=1, exclude_movie_ids=range(10**12, 10**12 + 800_000))  # ~5 MiB
    async with CandidatesClient(f"127.0.0.1:{port}", max_message_bytes=64 << 20) as client:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.get_candidates(huge, timeout_s=10.0)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
