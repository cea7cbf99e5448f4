"""The model-version tag that keys cached lists (gateway and precompute agree on it).

Source of truth: rows with status ``current`` in ``model_versions``; when the pipeline has
recorded none, the latest published version of each served model in the artifact store.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.engine import Connection

from kryptonite.config import Settings
from kryptonite.store.tables import model_versions

log = logging.getLogger("kryptonite.gateway")

#: Artifact model types the services serve (what a gateway list depends on).
SERVED_MODELS = (
    "popularity",
    "content",
    "mf_implicit",
    "item2item",
    "item_ridge",
    "ncf",
    "ranker",
)


def tag(pairs: list[tuple[str, str]]) -> str:
    return ",".join(f"{t}={v}" for t, v in sorted(pairs)) or "none"


def current_from_db(conn: Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        select(model_versions.c.model_type, model_versions.c.version).where(
            model_versions.c.status == "current"
        )
    )
    return [(r.model_type, r.version) for r in rows]


def latest_from_artifacts(settings: Settings) -> list[tuple[str, str]]:
    """Latest version of each served model in the artifact store (blocking I/O)."""
    try:
        from kryptonite.store.artifacts import store_from_settings

        store = store_from_settings(settings)
        found = [(t, store.latest(t)) for t in SERVED_MODELS]
    except Exception as exc:  # no store yet, S3 unreachable: keys fall back to "none"
        log.warning("artifact store not readable for version tags: %s", type(exc).__name__)
        return []
    return [(t, v) for t, v in found if v]
