"""ANN recall and gRPC latency of the candidates and ranking services.

Trains the served model types on ml-latest-small (NCF with few epochs: latency does not
depend on training quality), publishes them to a temporary artifact store, and prints:

* ANN recall@100 of the candidates' HNSW index against exact inner-product search, for
  the trained user vectors and for users folded in from 10-movie histories (not used
  when efSearch was tuned);
* p50/p99 latency of ``Rank`` with 500 candidates and of ``GetCandidates`` (default
  limit 300, 10 recent movies), at 1 and 32 concurrent callers, over gRPC on loopback.

The servers run as separate processes through ``kryptonite.rpc.commands`` (the
``kryptonite serve`` entry), so client and server do not share a GIL.

    nice python tests/benchmarks/bench_services.py [--data-dir ../shared/data] [--calls 400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from kryptonite.candidates.ann import exact_search, recall_at_k
from kryptonite.candidates.retrieval import build_models
from kryptonite.datasets.movielens import load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.models.content import ContentModel
from kryptonite.models.item2item import ItemKNN
from kryptonite.models.mf import ImplicitMF
from kryptonite.models.ncf.model import NCF
from kryptonite.models.popularity import Popularity
from kryptonite.pipeline.train import train_all, train_data
from kryptonite.rpc.clients import CandidatesClient, RankingClient
from kryptonite.rpc.generated.v1 import candidates_pb2, ranking_pb2
from kryptonite.store.artifacts import LocalArtifactStore

SERVE = "import sys; from kryptonite.rpc.commands import serve_command; serve_command(sys.argv[1])"


def models() -> dict:
    return {
        "popularity": lambda: Popularity(),
        "content": lambda: ContentModel(popularity_weight=0.5),
        "item2item": lambda: ItemKNN(alpha=0.7),
        "mf_implicit": lambda: ImplicitMF(alpha=10.0, recency_half_life=3.0),
        "ncf": lambda: NCF(epochs=2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ann_recall(trained: dict, histories: list[np.ndarray]) -> None:
    bundle = build_models(trained)
    mf = bundle.mf
    folded = np.vstack([mf.fold_in(mf.history(h)) for h in histories])
    for name, queries in (("trained users", mf.user_factors), ("folded-in users", folded)):
        found, _ = bundle.ann.search(queries, 100)
        recall = recall_at_k(found, exact_search(mf.item_factors, queries, 100))
        print(f"ANN recall@100 ({name}, {len(queries)} queries): {recall:.4f}")
    start = time.perf_counter()
    for q in folded[:200]:
        bundle.ann.search(q[None, :], 100)
    ann_ms = (time.perf_counter() - start) / min(200, len(folded)) * 1e3
    start = time.perf_counter()
    for q in folded[:200]:
        exact_search(mf.item_factors, q[None, :], 100)
    exact_ms = (time.perf_counter() - start) / min(200, len(folded)) * 1e3
    print(
        f"  HNSW M=32 efSearch={bundle.ann.ef_search}, {len(mf.item_factors)} items x "
        f"{mf.item_factors.shape[1]} dims; per query: ANN {ann_ms:.3f} ms, exact {exact_ms:.3f} ms"
    )


async def latency(
    name: str, call: Callable[[int], Awaitable[object]], callers: int, calls: int
) -> None:
    times: list[float] = []

    async def worker(w: int) -> None:
        for i in range(calls // callers):
            start = time.perf_counter()
            await call(w * 100_003 + i)
            times.append(time.perf_counter() - start)

    for i in range(20):  # warm-up
        await call(i)
    wall = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(callers)))
    wall = time.perf_counter() - wall
    ms = np.asarray(times) * 1e3
    print(
        f"{name:32s} callers={callers:2d}  p50 {np.percentile(ms, 50):7.2f} ms  "
        f"p99 {np.percentile(ms, 99):7.2f} ms  ({len(ms)} calls, {len(ms) / wall:6.0f}/s)"
    )


async def wait_serving(client: CandidatesClient | RankingClient) -> None:
    for _ in range(600):
        try:
            if await client.health(timeout_s=1.0) == 1:
                return
        except Exception:  # not up yet
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{client.target} never became SERVING")


def start_servers(root: str) -> tuple[dict[str, int], list[subprocess.Popen]]:
    """The candidates and ranking services as processes (``kryptonite serve NAME``)."""
    ports = {"candidates": free_port(), "ranking": free_port()}
    env = {
        **os.environ,
        "KRYPTONITE_ARTIFACT_URI": root,
        "KRYPTONITE_CANDIDATES_PORT": str(ports["candidates"]),
        "KRYPTONITE_RANKING_PORT": str(ports["ranking"]),
        "KRYPTONITE_LOG_LEVEL": "WARNING",
    }
    procs = [subprocess.Popen([sys.executable, "-c", SERVE, name], env=env) for name in ports]
    return ports, procs


async def bench_rpc(trained: dict, ports: dict[str, int], calls: int) -> None:
    cand = CandidatesClient(f"127.0.0.1:{ports['candidates']}", timeout_s=30.0)
    rank = RankingClient(f"127.0.0.1:{ports['ranking']}", timeout_s=30.0)
    try:
        await wait_serving(cand)
        await wait_serving(rank)
        users = trained["ncf"].users.ids
        items = trained["ncf"].items.ids
        rng = np.random.default_rng(0)
        pool = [rng.choice(items, 500, replace=False) for _ in range(64)]
        recent = [rng.choice(items, 10, replace=False) for _ in range(64)]

        def rank_call(i: int) -> Awaitable[object]:
            cands = [ranking_pb2.RankCandidate(movie_id=int(m)) for m in pool[i % 64]]
            req = ranking_pb2.RankRequest(user_id=int(users[i % len(users)]), candidates=cands)
            return rank.rank(req)

        def cand_call(i: int) -> Awaitable[object]:
            req = candidates_pb2.GetCandidatesRequest(
                user_id=int(users[i % len(users)]), recent_movie_ids=recent[i % 64].tolist()
            )
            return cand.get_candidates(req)

        for callers in (1, 32):
            await latency("Rank (500 candidates, top 50)", rank_call, callers, calls)
        for callers in (1, 32):
            await latency("GetCandidates (300, 4 sources)", cand_call, callers, calls)
    finally:
        await cand.close()
        await rank.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--calls", type=int, default=640, help="calls per measurement")
    args = parser.parse_args()
    spec = get_spec("ml-latest-small")
    frames = load_dataset(spec, args.data_dir / spec.dirname)
    data = train_data(ratings=frames.ratings, movies=frames.movies, tags=frames.tags)
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalArtifactStore(tmp)
        start = time.perf_counter()
        trained = {t.name: t.model for t in train_all(data, store, models=models(), progress=False)}
        took = time.perf_counter() - start
        print(f"trained {len(trained)} models on ml-latest-small in {took:.1f}s")
        rng = np.random.default_rng(1)
        items = trained["mf_implicit"].items.ids
        ann_recall(trained, [rng.choice(items, 10, replace=False) for _ in range(500)])
        ports, procs = start_servers(store.root)
        try:
            asyncio.run(bench_rpc(trained, ports, args.calls))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)


if __name__ == "__main__":
    main()
