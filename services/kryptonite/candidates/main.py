"""The candidates service process: ``kryptonite serve candidates``."""

from __future__ import annotations

from typing import Any

from kryptonite.candidates.retrieval import MODEL_TYPES, CandidateModels, build_models
from kryptonite.candidates.servicer import CandidatesServicer
from kryptonite.config import Settings
from kryptonite.rpc.generated.v1 import candidates_pb2, candidates_pb2_grpc
from kryptonite.rpc.server import service_def
from kryptonite.serving.model_holder import ModelHolder
from kryptonite.serving.service import ModelService, model_service, store_for
from kryptonite.store.artifacts import ArtifactStore


def create(
    settings: Settings, store: ArtifactStore | None = None, **server_overrides: Any
) -> ModelService[CandidateModels]:
    """The candidates service, not started yet."""
    holder = ModelHolder(
        store_for(settings, store), MODEL_TYPES, build_models, poll_s=settings.model_poll_s
    )
    svc = service_def(
        CandidatesServicer(holder), candidates_pb2_grpc, candidates_pb2, "CandidatesService"
    )
    return model_service("candidates", settings, holder, svc, **server_overrides)


async def serve(settings: Settings) -> None:
    """Run the candidates service until SIGTERM/SIGINT."""
    await create(settings).run()
