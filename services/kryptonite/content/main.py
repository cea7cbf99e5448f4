"""The content service process: ``kryptonite serve content``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from kryptonite.config import Settings
from kryptonite.content.servicer import ContentServicer
from kryptonite.models.base import Recommender
from kryptonite.models.content import ContentModel
from kryptonite.rpc.generated.v1 import content_pb2, content_pb2_grpc
from kryptonite.rpc.server import service_def
from kryptonite.serving.model_holder import ModelHolder
from kryptonite.serving.service import ModelService, model_service, store_for
from kryptonite.store.artifacts import ArtifactStore

MODEL_TYPES = ("content",)


def build_bundle(models: Mapping[str, Recommender]) -> ContentModel:
    return cast(ContentModel, models["content"])


def create(
    settings: Settings, store: ArtifactStore | None = None, **server_overrides: Any
) -> ModelService[ContentModel]:
    """The content service, not started yet."""
    holder = ModelHolder(
        store_for(settings, store), MODEL_TYPES, build_bundle, poll_s=settings.model_poll_s
    )
    servicer = ContentServicer(holder)
    svc = service_def(servicer, content_pb2_grpc, content_pb2, "ContentService")
    return model_service("content", settings, holder, svc, **server_overrides)


async def serve(settings: Settings) -> None:
    """Run the content service until SIGTERM/SIGINT."""
    await create(settings).run()
