"""``user_recommendations``: the precomputed lists, and the users each shard computes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from kryptonite.store.tables import user_recommendations, users


def shard_users(engine: Engine, shard: int, shards: int) -> list[int]:
    """Ids of the users of shard ``shard`` of ``shards`` (``user_id % shards``), ascending."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(users.c.user_id)
            .where(users.c.user_id % shards == shard)
            .order_by(users.c.user_id)
        )
        return [int(r.user_id) for r in rows]


def replace_lists(
    engine: Engine, model_type: str, lists: Mapping[int, Sequence[Mapping[str, Any]]]
) -> None:
    """Each user's rows of ``model_type`` become ``lists[user]`` (best first: each row has
    ``movie_id``, ``score``, ``reason``, ``model_version``), in one transaction."""
    if not lists:
        return
    rows = [
        {
            "user_id": user_id,
            "model_type": model_type,
            "rank": rank,
            "movie_id": row["movie_id"],
            "model_version": row["model_version"][:64],
            "score": row["score"],
            "reason": row["reason"][:255] if row["reason"] else None,
        }
        for user_id, items in lists.items()
        for rank, row in enumerate(items, start=1)
    ]
    with engine.begin() as conn:
        conn.execute(
            delete(user_recommendations).where(
                (user_recommendations.c.model_type == model_type)
                & user_recommendations.c.user_id.in_(list(lists))
            )
        )
        if rows:
            conn.execute(insert(user_recommendations), rows)
