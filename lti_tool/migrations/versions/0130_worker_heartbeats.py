"""worker heartbeats: when each delivery worker last showed it was alive

Revision ID: 0130_worker_heartbeats
Revises: 0120_index_rows_in_stored_order
Create Date: 2026-11-28 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import referentiel.orm

revision: str = "0130_worker_heartbeats"
down_revision: str | Sequence[str] | None = "0120_index_rows_in_stored_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("started_at", referentiel.orm.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", referentiel.orm.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_heartbeat")),
    )
    op.create_index(
        op.f("ix_worker_heartbeat_seen_at"), "worker_heartbeat", ["seen_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_worker_heartbeat_seen_at"), table_name="worker_heartbeat")
    op.drop_table("worker_heartbeat")
