"""derivation queue: statements whose derivation failed are set aside

Revision ID: 0080_derivation_failures
Revises: 0070_derivation_queue
Create Date: 2026-11-26 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import referentiel.orm

revision: str = "0080_derivation_failures"
down_revision: str | Sequence[str] | None = "0070_derivation_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("xapi_derivation_queue") as batch_op:
        batch_op.add_column(
            sa.Column("failed_at", referentiel.orm.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("xapi_derivation_queue") as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("failed_at")
