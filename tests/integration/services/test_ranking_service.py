"""RankingService over gRPC with a real stage-two ranker and NeuMF."""

from __future__ import annotations

import grpc
import pytest

from kryptonite.rpc.generated.v1 import common_pb2, ranking_pb2

Req = ranking_pb2.RankRequest
Cand = ranking_pb2.RankCandidate
POPULAR = common_pb2.CANDIDATE_SOURCE_POPULAR
MF = common_pb2.CANDIDATE_SOURCE_MF


def candidates(trained, n: int = 500) -> list[Cand]:
    ids = trained.models["ncf"].items.ids[:n]
    return [
        Cand(movie_id=int(m), retrieval_score=float(n - i), source=POPULAR if i % 5 == 0 else MF)
        for i, m in enumerate(ids)
    ]


async def test_rank_known_user(services, trained) -> None:
    cands = candidates(trained)
    reply = await services.ranking_client.rank(
        Req(user_id=1, candidates=cands + cands[:10], limit=100, diversity=0.0)
    )
    assert len(reply.items) == 100 and len({i.movie_id for i in reply.items}) == 100
    scores = [i.score for i in reply.items]
    assert scores == sorted(scores, reverse=True)  # no diversity: pure relevance
    assert not reply.fallback and reply.fallback_reason == ""
    assert "ranker@" in reply.model_version and "ncf@" in reply.model_version
    sources = {c.movie_id: c.source for c in cands}
    assert all(i.source == sources[i.movie_id] for i in reply.items)
    assert all(i.reason.kind != common_pb2.REASON_KIND_UNSPECIFIED for i in reply.items)


async def test_diversity_reorders(services, trained) -> None:
    base = Req(user_id=1, candidates=candidates(trained, 200), limit=30)
    plain = await services.ranking_client.rank(_with(base, 0.0))
    diverse = await services.ranking_client.rank(_with(base, 0.7))
    assert [i.movie_id for i in plain.items] != [i.movie_id for i in diverse.items]
    assert plain.items[0].movie_id == diverse.items[0].movie_id  # the best one stays first


def _with(req: Req, diversity: float) -> Req:
    out = Req()
    out.CopyFrom(req)
    out.diversity = diversity
    return out


async def test_reasons_anchor_history(services, trained) -> None:
    recent, listed = [1, 260], [2571]
    reply = await services.ranking_client.rank(
        Req(
            user_id=1,
            candidates=candidates(trained, 300),
            limit=300,
            recent_movie_ids=recent,
            list_movie_ids=listed,
        )
    )
    anchored = [i for i in reply.items if i.reason.anchor_movie_id]
    assert anchored and all(i.reason.anchor_movie_id in {*recent, *listed} for i in anchored)
    for i in anchored:
        kind = (
            common_pb2.REASON_KIND_BECAUSE_LISTED
            if i.reason.anchor_movie_id in listed
            else common_pb2.REASON_KIND_BECAUSE_WATCHED
        )
        assert i.reason.kind == kind


async def test_unknown_user_folded_in(services, trained) -> None:
    for model in (ranking_pb2.RANK_MODEL_STAGE_TWO, ranking_pb2.RANK_MODEL_NEUMF):
        reply = await services.ranking_client.rank(
            Req(
                user_id=8_000_000,
                candidates=candidates(trained, 50),
                recent_movie_ids=[1, 260],
                model=model,
            )
        )
        assert not reply.fallback and len(reply.items) == 50, model


async def test_a_known_users_fresh_list_moves_the_ranking(services, trained) -> None:
    """No retraining: the ranker reads the request's list, so adding animated films puts
    animated candidates first for a user the model was trained on."""
    genres = dict(zip(trained.data.movies.movie_id, trained.data.movies.genres, strict=True))
    pixar = [1, 2355, 3114, 4886, 6377, 8961]  # Toy Story ... The Incredibles
    horror = [1258, 1387, 1997, 2710, 1214, 1200]  # The Shining, Jaws, The Exorcist ...
    cands = [c for c in candidates(trained, 1500) if c.movie_id not in {*pixar, *horror}]

    async def animated(listed: list[int]) -> int:
        req = Req(user_id=1, candidates=cands, limit=10, diversity=0.0, list_movie_ids=listed)
        reply = await services.ranking_client.rank(req)
        return sum("Animation" in genres.get(i.movie_id, []) for i in reply.items)

    before, with_pixar, with_horror = (
        await animated([]),
        await animated(pixar),
        await animated(horror),
    )
    assert with_pixar >= max(before, with_horror) + 2, (before, with_pixar, with_horror)


async def test_low_rated_movies_are_never_anchors(services, trained) -> None:
    reply = await services.ranking_client.rank(
        Req(
            user_id=8_000_001,
            candidates=candidates(trained, 300),
            limit=50,
            recent_movie_ids=[1, 260, 2571],
            low_rated_movie_ids=[260, 2571],
        )
    )
    anchors = {i.reason.anchor_movie_id for i in reply.items} - {0}
    assert anchors and anchors <= {1}, anchors


async def test_unknown_user_without_history_falls_back(services, trained) -> None:
    cands = candidates(trained, 40)
    reply = await services.ranking_client.rank(Req(user_id=0, candidates=cands, diversity=0.0))
    assert reply.fallback and reply.fallback_reason == "unknown_user"
    assert [i.movie_id for i in reply.items] == [c.movie_id for c in cands]


async def test_unknown_movies_go_last(services, trained) -> None:
    cands = [Cand(movie_id=999_999_999, retrieval_score=100.0), *candidates(trained, 20)]
    reply = await services.ranking_client.rank(Req(user_id=1, candidates=cands, diversity=0.0))
    assert reply.items[-1].movie_id == 999_999_999


async def test_empty_candidates(services) -> None:
    reply = await services.ranking_client.rank(Req(user_id=1))
    assert len(reply.items) == 0


@pytest.mark.parametrize(
    "request_",
    [
        Req(user_id=-2),
        Req(user_id=1, candidates=[Cand(movie_id=0)]),
        Req(user_id=1, limit=-1),
        Req(user_id=1, limit=100_000),
        Req(user_id=1, diversity=1.5),
        Req(user_id=1, diversity=-0.1),
        Req(user_id=1, recent_movie_ids=[-1]),
        Req(user_id=1, candidates=[Cand(movie_id=i + 1) for i in range(2001)]),
        Req(user_id=1, model=7),
        Req(user_id=1, low_rated_movie_ids=[0]),
    ],
)
async def test_invalid_arguments(services, request_) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.ranking_client.rank(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and err.value.details()
