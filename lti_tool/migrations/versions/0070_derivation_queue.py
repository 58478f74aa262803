"""xAPI derivation queue: evidence is derived after the statements are stored

Revision ID: 0070_derivation_queue
Revises: 0060_lti_launch_storage
Create Date: 2026-11-26 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import referentiel.orm

revision: str = "0070_derivation_queue"
down_revision: str | Sequence[str] | None = "0060_lti_launch_storage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "xapi_derivation_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.String(length=36), nullable=False),
        sa.Column("queued_at", referentiel.orm.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xapi_derivation_queue")),
    )


def downgrade() -> None:
    op.drop_table("xapi_derivation_queue")
