"""Model types by name, and loading a saved model from its directory."""

from __future__ import annotations

import json
from pathlib import Path

from kryptonite.models.base import PARAMS_FILE, Recommender

MODEL_TYPES: dict[str, type[Recommender]] = {}


def register(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator: make ``cls`` loadable by its ``model_type``."""
    MODEL_TYPES[cls.model_type] = cls
    return cls


def model_class(model_type: str) -> type[Recommender]:
    _import_all()
    try:
        return MODEL_TYPES[model_type]
    except KeyError:
        raise ValueError(
            f"unknown model type {model_type!r}; known: {sorted(MODEL_TYPES)}"
        ) from None


def load_model(path: Path | str) -> Recommender:
    """Load a model saved by ``Recommender.save`` (an artifact version directory)."""
    path = Path(path)
    meta = json.loads((path / PARAMS_FILE).read_text())
    return model_class(meta["model_type"]).load(path)


def _import_all() -> None:
    # Importing the modules runs their @register decorators.
    from kryptonite.models import content, item2item, mf, popularity  # noqa: F401
    from kryptonite.models.evaluation import baselines  # noqa: F401
    from kryptonite.models.ncf import model  # noqa: F401
    from kryptonite.models.ranker import model as ranker  # noqa: F401
