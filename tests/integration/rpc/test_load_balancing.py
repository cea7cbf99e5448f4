"""Client-side load balancing: three real ranking processes behind one multi-address
target, as a headless Service gives the gateway (one address per pod).

The real :class:`RankingClient` must spread calls over all of them (``round_robin``),
including a process that starts after the client connected (a pod the autoscaler adds).
With gRPC's default ``pick_first`` every call would go to one process.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry

from kryptonite.rpc.clients import ContentClient, RankingClient
from kryptonite.rpc.generated.v1 import content_pb2, content_pb2_grpc, ranking_pb2
from kryptonite.rpc.metrics import RpcMetrics
from kryptonite.rpc.server import RpcServer, service_def

from ...conftest import train_small

LAUNCHER = Path(__file__).with_name("serve_counted.py")
ROOT = Path(__file__).resolve().parents[3]
CALLS = 300
HANDLED = re.compile(
    r'^kryptonite_rpc_server_handled_total\{[^}]*method="Rank"[^}]*\} (\S+)$', re.M
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Ranking:
    """One ``kryptonite.ranking`` process; :meth:`handled` reads its own metrics."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, metrics_port: int) -> None:
        self.proc, self.port, self.metrics_port = proc, port, metrics_port

    def handled(self) -> float:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return sum(float(v) for v in HANDLED.findall(reply.read().decode()))


@pytest.fixture(scope="module")
def artifacts(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lb-artifacts")
    train_small(data_dir, path)
    return path


@pytest_asyncio.fixture(loop_scope="session")
async def start_ranking(
    artifacts: Path, tmp_path: Path
) -> AsyncIterator[Callable[[int], asyncio.Future[Ranking]]]:
    started: list[asyncio.subprocess.Process] = []
    env = os.environ | {
        "PYTHONPATH": str(ROOT / "services"),
        "KRYPTONITE_HOME": str(tmp_path),
        "KRYPTONITE_ARTIFACT_URI": str(artifacts),
        "KRYPTONITE_HOST": "127.0.0.1",
        "KRYPTONITE_LOG_LEVEL": "WARNING",
    }

    async def start(port: int) -> Ranking:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(LAUNCHER), "ranking", str(port),
            env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        started.append(proc)
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        assert line, f"ranking process on port {port} exited with {await proc.wait()}"
        info = json.loads(line)
        return Ranking(proc, info["port"], info["metrics_port"])

    yield start  # type: ignore[misc]
    for proc in started:
        if proc.returncode is None:
            proc.terminate()
    for proc in started:
        await asyncio.wait_for(proc.wait(), 30)


def request() -> ranking_pb2.RankRequest:
    candidates = [ranking_pb2.RankCandidate(movie_id=m, retrieval_score=1.0) for m in range(1, 41)]
    return ranking_pb2.RankRequest(user_id=1, candidates=candidates, limit=10)


@pytest.mark.slow
async def test_calls_spread_over_every_process_including_a_late_one(
    start_ranking: Callable[[int], asyncio.Future[Ranking]],
) -> None:
    ports = [free_port() for _ in range(3)]
    first = await asyncio.gather(start_ranking(ports[0]), start_ranking(ports[1]))
    target = "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in ports)
    async with RankingClient(target, timeout_s=5.0) as client:
        for _ in range(20):  # connected while the third address has nothing behind it
            await client.rank(request())
        late = await start_ranking(ports[2])
        servers = [*first, late]
        for _ in range(200):  # the channel retries the third address (backoff <= 2 s)
            await client.rank(request())
            if late.handled() > 0:
                break
            await asyncio.sleep(0.05)
        assert late.handled() > 0, "the late process never got a call"
        before = [s.handled() for s in servers]
        for _ in range(CALLS):
            await client.rank(request())
        shares = [(s.handled() - b) / CALLS for s, b in zip(servers, before, strict=True)]
    assert sum(shares) == pytest.approx(1.0)
    assert all(0.20 <= share <= 0.46 for share in shares), shares


class Peers(content_pb2_grpc.ContentServiceServicer):
    """Records the client address (ip:port) of each call: a new port = a new connection."""

    def __init__(self) -> None:
        self.peers: list[str] = []

    async def SimilarMovies(
        self, request: content_pb2.SimilarMoviesRequest, context: grpc.aio.ServicerContext
    ) -> content_pb2.SimilarMoviesResponse:
        self.peers.append(context.peer())
        return content_pb2.SimilarMoviesResponse(model_version="test")


async def test_server_recycles_connections_without_failing_calls() -> None:
    """``max_connection_age``: the server sends GOAWAY, the client reconnects (and so
    re-resolves a headless Service's DNS name); no call fails on the way."""
    servicer = Peers()
    server = RpcServer(
        [service_def(servicer, content_pb2_grpc, content_pb2, "ContentService")],
        max_connection_age_s=0.3,
        grace_s=1.0,
        metrics=RpcMetrics(CollectorRegistry()),
    )
    port = await server.start()
    await server.set_serving()
    try:
        async with ContentClient(f"127.0.0.1:{port}", timeout_s=2.0) as client:
            for _ in range(25):
                await client.similar_movies(content_pb2.SimilarMoviesRequest(movie_id=1))
                await asyncio.sleep(0.08)
    finally:
        await server.stop(0)
    assert len(servicer.peers) == 25
    assert len(set(servicer.peers)) >= 3, servicer.peers
