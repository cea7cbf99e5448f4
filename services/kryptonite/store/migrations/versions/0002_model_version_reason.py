"""model_versions.reason: why a version was promoted or rejected

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

The promotion gate keeps a rejected version and says why here (status ``rejected``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("reason")
