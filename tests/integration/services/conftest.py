"""Small real models on a slice of ml-latest-small, published to a tmp artifact store,
and the three services on loopback (session scope: trained and started once)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from threadpoolctl import threadpool_limits

from kryptonite.candidates import main as candidates_main
from kryptonite.config import Settings
from kryptonite.content import main as content_main
from kryptonite.datasets.movielens import load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.models.base import Recommender
from kryptonite.models.content import ContentModel
from kryptonite.models.data import TrainData
from kryptonite.models.item2item import ItemKNN, ItemRidge
from kryptonite.models.mf import ImplicitMF
from kryptonite.models.ncf.model import NCF
from kryptonite.models.popularity import Popularity
from kryptonite.models.ranker.model import StageTwoRanker
from kryptonite.pipeline.train import train_all, train_data
from kryptonite.ranking import main as ranking_main
from kryptonite.rpc.clients import CandidatesClient, ContentClient, RankingClient
from kryptonite.serving.config import ServedConfig
from kryptonite.serving.service import ModelService
from kryptonite.serving.stage1 import stage1_builder
from kryptonite.store.artifacts import LocalArtifactStore

N_USERS = 200
POLL_S = 0.2


def small_models() -> dict[str, Callable[[], Recommender]]:
    """The served model types with small, fast settings."""
    stage1: dict[str, Callable[[], Recommender]] = {
        "popularity": lambda: Popularity(),
        "content": lambda: ContentModel(),
        "item2item": lambda: ItemKNN(neighbours=50),
        "item_ridge": lambda: ItemRidge(min_count=5),
        "mf_implicit": lambda: ImplicitMF(factors=32, iterations=5, alpha=10.0, threads=1),
    }
    builder = stage1_builder(stage1, ServedConfig())
    return {
        **stage1,
        "ncf": lambda: NCF(factors=16, layers=[32, 16, 8], epochs=2, threads=1),
        "ranker": lambda: StageTwoRanker(stage1=builder, holdout=2, max_users=100, epochs=20),
    }


@dataclass
class Trained:
    data: TrainData
    store: LocalArtifactStore
    models: dict[str, Recommender]
    seconds: float


@pytest.fixture(scope="session")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    start = time.perf_counter()
    spec = get_spec("ml-latest-small")
    frames = load_dataset(spec, data_dir / spec.dirname)
    users = frames.ratings["user_id"].drop_duplicates().sort_values().head(N_USERS)
    ratings = frames.ratings[frames.ratings["user_id"].isin(users)]
    data = train_data(ratings=ratings, movies=frames.movies, tags=frames.tags)
    store = LocalArtifactStore(tmp_path_factory.mktemp("artifacts"))
    with threadpool_limits(1, "blas"):  # implicit's ALS wants single-threaded BLAS
        out = train_all(data, store, models=small_models(), progress=False)
    return Trained(data, store, {t.name: t.model for t in out}, time.perf_counter() - start)


@dataclass
class Running:
    candidates: ModelService
    ranking: ModelService
    content: ModelService
    candidates_client: CandidatesClient
    ranking_client: RankingClient
    content_client: ContentClient


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def services(trained: Trained) -> AsyncIterator[Running]:
    settings = Settings(artifact_uri=trained.store.root, model_poll_s=POLL_S)
    started = [
        mod.create(settings, trained.store, port=0, metrics_port=None, grace_s=1.0)
        for mod in (candidates_main, ranking_main, content_main)
    ]
    for svc in started:
        await svc.start()
    cand, rank, cont = started
    clients = (
        CandidatesClient(f"127.0.0.1:{cand.server.port}", timeout_s=10.0),
        RankingClient(f"127.0.0.1:{rank.server.port}", timeout_s=10.0),
        ContentClient(f"127.0.0.1:{cont.server.port}", timeout_s=10.0),
    )
    yield Running(cand, rank, cont, *clients)
    for client in clients:
        await client.close()
    for svc in started:
        await svc.stop(0.5)
