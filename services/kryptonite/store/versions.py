"""One notion of a model version: the record in ``model_versions``, the current pointer.

A training run publishes every model as an immutable artifact version; the promotion
gate then decides ``current`` or ``rejected``. :class:`VersionRecorder` is the publish
hook that makes the decision visible in both places readers look:

* the database: a ``model_versions`` row (status, metrics, reason; the model's
  ``models_type`` row is created on first publish), the previous current row ``retired``;
* the artifact store: ``<model_type>/CURRENT`` names the current version (services and
  jobs without a database read that, through :meth:`ArtifactStore.current`).

Every reader formats a set of versions with :func:`tag`: ``type@version`` joined by ``,``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, insert, inspect, select, update
from sqlalchemy.engine import Connection

from kryptonite.store import tables as t
from kryptonite.store.artifacts import ArtifactStore, Manifest

log = logging.getLogger("kryptonite.store.versions")

CURRENT, REJECTED, RETIRED = "current", "rejected", "retired"
_FEEDBACK = {"mf_explicit": "explicit", "ncf_explicit": "explicit", "bias_baseline": "explicit"}


def tag(versions: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """``a@v1,b@v2`` sorted by model type; ``none`` when empty."""
    pairs = versions.items() if isinstance(versions, Mapping) else versions
    return ",".join(f"{m}@{v}" for m, v in sorted(pairs)) or "none"


def is_recorded(engine: Engine) -> bool:
    """Whether the database has ``model_versions`` (migrated), so versions are recorded."""
    with engine.connect() as conn:
        return inspect(conn).has_table(t.model_versions.name)


def current_rows(conn: Connection) -> dict[str, str]:
    """``{model_type: version}`` of the rows with status ``current``."""
    mv = t.model_versions.c
    rows = conn.execute(select(mv.model_type, mv.version).where(mv.status == CURRENT))
    return {r.model_type: r.version for r in rows}


def current_in_store(store: ArtifactStore, model_types: Iterable[str]) -> dict[str, str]:
    """The current version of each type that has one in the artifact store."""
    found = {m: store.current(m) for m in model_types}
    return {m: v for m, v in found.items() if v}


def _ensure_model_type(conn: Connection, model_type: str) -> None:
    mt = t.models_type.c
    if conn.execute(select(mt.model_type).where(mt.model_type == model_type)).first() is None:
        conn.execute(
            insert(t.models_type).values(
                model_type=model_type,
                feedback=_FEEDBACK.get(model_type, "implicit"),
                description=f"{model_type} (registered on first publish)",
            )
        )


def record(conn: Connection, manifest: Manifest, status: str, reason: str | None = None) -> None:
    """Insert the ``model_versions`` row of ``manifest``; a new current retires the old."""
    mv = t.model_versions.c
    _ensure_model_type(conn, manifest.model_type)
    if status == CURRENT:
        conn.execute(
            update(t.model_versions)
            .where((mv.model_type == manifest.model_type) & (mv.status == CURRENT))
            .values(status=RETIRED)
        )
    conn.execute(
        insert(t.model_versions).values(
            model_type=manifest.model_type,
            version=manifest.version,
            artifact_uri=manifest.uri,
            metrics=manifest.metrics,
            status=status,
            reason=(reason or "")[:512] or None,
        )
    )


class VersionRecorder:
    """The publish hook: record the gate's decision (in ``manifest.metrics['promotion']``)
    in ``model_versions`` and, for a promoted version, move the store's current pointer."""

    def __init__(self, store: ArtifactStore, engine: Engine | None) -> None:
        self.store = store
        self.engine = engine

    def __call__(self, manifest: Manifest) -> None:
        decision: dict[str, Any] = manifest.metrics.get("promotion") or {}
        status = decision.get("status", CURRENT)
        reason = decision.get("reason")
        if self.engine is not None:
            with self.engine.begin() as conn:
                record(conn, manifest, status, reason)
        if status == CURRENT:
            self.store.set_current(manifest.model_type, manifest.version)
            log.info("promoted %s@%s: %s", manifest.model_type, manifest.version, reason)
        else:
            log.warning("rejected %s@%s: %s", manifest.model_type, manifest.version, reason)
