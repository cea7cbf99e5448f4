"""Health, NOT_SERVING/UNAVAILABLE before a model exists, and hot reload under load."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
import typer
from grpc_health.v1 import health_pb2
from typer.testing import CliRunner

from kryptonite.candidates.main import create as create_candidates
from kryptonite.candidates.retrieval import MODEL_TYPES as CANDIDATE_TYPES
from kryptonite.config import Settings
from kryptonite.ranking.main import create as create_ranking
from kryptonite.ranking.scoring import MODEL_TYPES as RANKING_TYPES
from kryptonite.rpc.clients import CandidatesClient, RankingClient
from kryptonite.rpc.commands import SERVERS, register
from kryptonite.rpc.generated.v1 import candidates_pb2, ranking_pb2
from kryptonite.store.artifacts import LocalArtifactStore

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_health_serving(services) -> None:
    for client, name in (
        (services.candidates_client, "kryptonite.v1.CandidatesService"),
        (services.ranking_client, "kryptonite.v1.RankingService"),
        (services.content_client, "kryptonite.v1.ContentService"),
    ):
        assert await client.health() == SERVING
        assert await client.health(name) == SERVING


async def test_not_serving_until_a_model_is_published(tmp_path: Path, trained) -> None:
    store = LocalArtifactStore(tmp_path / "empty")
    settings = Settings(artifact_uri=store.root, model_poll_s=0.1)
    svc = create_ranking(settings, store, port=0, metrics_port=None, grace_s=0.5)
    await svc.server.start()
    starting = asyncio.create_task(svc.holder.start())
    try:
        async with RankingClient(f"127.0.0.1:{svc.server.port}", timeout_s=5.0) as client:
            assert await client.health() == NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await client.rank(ranking_pb2.RankRequest(user_id=1))
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            for name in RANKING_TYPES:  # the ranker and every model its features read
                store.publish(trained.models[name])
            await asyncio.wait_for(starting, 30)
            await svc.server.set_serving()
            assert await client.health() == SERVING
            reply = await client.rank(ranking_pb2.RankRequest(user_id=1))
            assert "ranker@" in reply.model_version
    finally:
        await svc.stop(0.5)
        starting.cancel()


async def test_hot_reload_under_concurrent_calls(tmp_path: Path, trained) -> None:
    """8 tasks per service call continuously while newer versions are published."""
    store = LocalArtifactStore(tmp_path / "artifacts")
    for name in {*CANDIDATE_TYPES, *RANKING_TYPES}:
        store.publish(trained.models[name])
    settings = Settings(artifact_uri=store.root, model_poll_s=0.1)
    started = [
        create(settings, store, port=0, metrics_port=None, grace_s=0.5)
        for create in (create_candidates, create_ranking)
    ]
    for svc in started:
        await svc.start()
    cand_svc, rank_svc = started
    cand = CandidatesClient(f"127.0.0.1:{cand_svc.server.port}", timeout_s=10.0)
    rank = RankingClient(f"127.0.0.1:{rank_svc.server.port}", timeout_s=10.0)
    ids = trained.models["ncf"].items.ids[:200]
    rank_req = ranking_pb2.RankRequest(
        user_id=1, candidates=[ranking_pb2.RankCandidate(movie_id=int(m)) for m in ids]
    )
    cand_req = candidates_pb2.GetCandidatesRequest(user_id=1, recent_movie_ids=[1, 260])
    seen: dict[str, set[str]] = {"rank": set(), "cand": set()}
    errors: list[BaseException] = []
    calls = 0
    stop = asyncio.Event()

    async def hammer(kind: str) -> None:
        nonlocal calls
        while not stop.is_set():
            try:
                if kind == "rank":
                    reply = await rank.rank(rank_req)
                else:
                    reply = await cand.get_candidates(cand_req)
                seen[kind].add(reply.model_version)
                calls += 1
            except Exception as exc:  # every failure counts
                errors.append(exc)

    tasks = [asyncio.create_task(hammer(k)) for k in ("rank", "cand") for _ in range(8)]
    try:
        await asyncio.sleep(0.5)
        old = (rank_svc.holder.get().version, cand_svc.holder.get().version)
        await asyncio.to_thread(store.publish, trained.models["ranker"])
        await asyncio.to_thread(store.publish, trained.models["mf_implicit"])
        for _ in range(200):
            new = (rank_svc.holder.get().version, cand_svc.holder.get().version)
            if new[0] != old[0] and new[1] != old[1]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # keep calling on the new versions
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await cand.close()
        await rank.close()
        for svc in started:
            await svc.stop(0.5)
    assert not errors, errors[:3]
    assert calls > 16
    # the ranker reads mf_implicit too: it reloads on both publications
    assert {old[0], new[0]} <= seen["rank"] and old[0] != new[0]
    assert seen["cand"] == {old[1], new[1]} and old[1] != new[1]


async def test_ann_index_meets_recall_target(services) -> None:
    ann = services.candidates.holder.get().bundle.ann
    assert ann.recall >= 0.95


async def test_deadline_exceeded(services) -> None:
    req = ranking_pb2.RankRequest(
        user_id=7_000_000,
        recent_movie_ids=[1, 260, 1196],
        candidates=[ranking_pb2.RankCandidate(movie_id=m) for m in range(1, 500)],
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await services.ranking_client.rank(req, timeout_s=0.001)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert (await services.ranking_client.rank(req)).items  # the server is fine afterwards


def test_serve_command_names_the_services() -> None:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps `serve` a sub-command
    result = CliRunner().invoke(app, ["serve", "nope"])
    assert result.exit_code != 0 and "candidates" in result.output
    assert set(SERVERS) == {"candidates", "ranking", "content", "gateway"}
