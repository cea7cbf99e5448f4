"""The model-version tag that keys cached lists (gateway and precompute agree on it).

Source of truth: rows with status ``current`` in ``model_versions``; when the pipeline has
recorded none, the current version of each served model in the artifact store (its
CURRENT pointer). Both are written by one publish hook (``kryptonite.store.versions``),
and every reader formats them with the same :func:`tag` (``type@version``).
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Connection

from kryptonite.config import Settings
from kryptonite.store import versions as store_versions

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

tag = store_versions.tag


def current_from_db(conn: Connection) -> list[tuple[str, str]]:
    """Current versions of the served models recorded in ``model_versions``."""
    rows = store_versions.current_rows(conn)
    return [(t, v) for t, v in sorted(rows.items()) if t in SERVED_MODELS]


def latest_from_artifacts(settings: Settings) -> list[tuple[str, str]]:
    """Current version of each served model in the artifact store (blocking I/O)."""
    try:
        from kryptonite.store.artifacts import store_from_settings

        found = store_versions.current_in_store(store_from_settings(settings), SERVED_MODELS)
    except Exception as exc:  # no store yet, S3 unreachable: keys fall back to "none"
        log.warning("artifact store not readable for version tags: %s", type(exc).__name__)
        return []
    return sorted(found.items())
