"""competency states keep the tally of their evidence (added to without re-reading it)

Revision ID: 0090_state_tally
Revises: 0080_derivation_failures
Create Date: 2026-11-26 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0090_state_tally"
down_revision: str | Sequence[str] | None = "0080_derivation_failures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty for the states already computed: their next recomputation reads their
    # whole evidence once and keeps the tally from then on.
    with op.batch_alter_table("competency_state") as batch_op:
        batch_op.add_column(sa.Column("tally", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("competency_state") as batch_op:
        batch_op.drop_column("tally")
