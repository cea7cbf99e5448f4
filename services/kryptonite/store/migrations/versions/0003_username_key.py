"""canonical usernames

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

``users.username_key``: the username in canonical form (NFKC + case fold), unique and
compared bytewise, so ``PIXARFAN``/``pixarfan`` are one account and ``alicé`` never signs
in as ``alice``. Existing accounts are backfilled; where two existing names fold to one
key, the oldest account keeps it (the others keep their row, without a key).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from kryptonite.store.tables import CANONICAL_NAME
from kryptonite.store.usernames import canonical

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


#: SQLite rebuilds the table for a constraint: keep AUTOINCREMENT (ids above MovieLens).
_BATCH = {"table_kwargs": {"sqlite_autoincrement": True}}


def _sqlite_sequence() -> int | None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return None
    seq = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'users'")).scalar()
    return int(seq) if seq is not None else None


def _restore_sequence(seq: int | None) -> None:
    if seq is None:
        return
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'users'"))
    conn.execute(
        sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('users', :s)"), {"s": seq}
    )


def upgrade() -> None:
    seq = _sqlite_sequence()
    with op.batch_alter_table("users", **_BATCH) as batch:
        batch.add_column(sa.Column("username_key", CANONICAL_NAME, nullable=True))
    conn = op.get_bind()
    users = sa.table(
        "users", sa.column("user_id"), sa.column("username"), sa.column("username_key")
    )
    rows = conn.execute(
        sa.select(users.c.user_id, users.c.username)
        .where(users.c.username.is_not(None))
        .order_by(users.c.user_id)
    ).all()
    taken: set[str] = set()
    for user_id, username in rows:
        key = canonical(username)
        if key in taken:
            continue
        taken.add(key)
        conn.execute(users.update().where(users.c.user_id == user_id).values(username_key=key))
    with op.batch_alter_table("users", **_BATCH) as batch:
        batch.create_unique_constraint(op.f("uq_users_username_key"), ["username_key"])
    _restore_sequence(seq)


def downgrade() -> None:
    seq = _sqlite_sequence()
    with op.batch_alter_table("users", **_BATCH) as batch:
        batch.drop_constraint(op.f("uq_users_username_key"), type_="unique")
        batch.drop_column("username_key")
    _restore_sequence(seq)
