"""Reuse a published model when nothing it depends on changed; prune old versions.

A published version is reused (not retrained) when its manifest records the same data
fingerprint, the same model code (a hash of the ``kryptonite.models`` package) and the
same hyperparameters as the model about to be trained.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from kryptonite.models.base import Recommender
from kryptonite.store.artifacts import ArtifactError, ArtifactStore, Manifest

log = logging.getLogger("kryptonite.pipeline")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A short hash of every source file of the ``kryptonite.models`` package."""
    import kryptonite.models as package

    root = Path(package.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _normalized(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def find_reusable(
    store: ArtifactStore, model: Recommender, data_fingerprint: str
) -> Manifest | None:
    """The latest published version of ``model``'s type if it was trained on the same
    data by the same code with the same parameters, else None."""
    version = store.latest(model.model_type)
    if version is None:
        return None
    try:
        manifest = store.manifest(model.model_type, version)
    except ArtifactError:
        return None
    same = (
        manifest.data_fingerprint == data_fingerprint
        and manifest.code_fingerprint == code_fingerprint()
        and _normalized(manifest.params) == _normalized(model.params.to_dict())
    )
    return manifest if same else None


def current_versions(settings: Any) -> dict[str, set[str]] | None:
    """``model_versions`` rows with status current, per model type; None when the
    database cannot be read (then nothing is pruned)."""
    from sqlalchemy.exc import SQLAlchemyError

    from kryptonite.gateway.versions import current_from_db
    from kryptonite.store.engine import create_sync_engine

    engine = create_sync_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            rows = current_from_db(conn)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("model versions unreadable, no artifact pruned: %s", type(exc).__name__)
        return None
    finally:
        engine.dispose()
    out: dict[str, set[str]] = {}
    for model_type, version in rows:
        out.setdefault(model_type, set()).add(version)
    return out


def prune_versions(
    store: ArtifactStore, model_types: Iterable[str], keep: int, settings: Any
) -> dict[str, list[str]]:
    """Keep the newest ``keep`` versions of each type (and every current one)."""
    current = current_versions(settings)
    if current is None:
        return {}
    pruned = {t: store.prune(t, keep, current.get(t, set())) for t in model_types}
    return {t: v for t, v in pruned.items() if v}
