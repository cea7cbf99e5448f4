"""The ranking service process: ``kryptonite serve ranking``."""

from __future__ import annotations

from typing import Any

from kryptonite.config import Settings
from kryptonite.ranking.scoring import MODEL_TYPES, RankingModel, build_ranking
from kryptonite.ranking.servicer import RankingServicer
from kryptonite.rpc.generated.v1 import ranking_pb2, ranking_pb2_grpc
from kryptonite.rpc.server import service_def
from kryptonite.serving.model_holder import ModelHolder
from kryptonite.serving.service import ModelService, model_service, store_for
from kryptonite.store.artifacts import ArtifactStore


def create(
    settings: Settings, store: ArtifactStore | None = None, **server_overrides: Any
) -> ModelService[RankingModel]:
    """The ranking service, not started yet."""
    holder = ModelHolder(
        store_for(settings, store), MODEL_TYPES, build_ranking, poll_s=settings.model_poll_s
    )
    servicer = RankingServicer(holder, settings.ranking_diversity)
    svc = service_def(servicer, ranking_pb2_grpc, ranking_pb2, "RankingService")
    return model_service("ranking", settings, holder, svc, **server_overrides)


async def serve(settings: Settings) -> None:
    """Run the ranking service until SIGTERM/SIGINT."""
    await create(settings).run()
