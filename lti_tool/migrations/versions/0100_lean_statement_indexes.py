"""statements keep only the indexes queries use (fewer pages written per POST)

Every index of the statement tables is written at each POST: a single statement
wrote 26 database pages on SQLite, 19 after this. Dropped: ``stored`` alone (queries
go through ``(voided, stored)``), ``credential_id`` (credentials are revoked, never
deleted) and ``statement_id`` of the agent and activity index tables (read through
their ``(key, statement_id)`` indexes; statements are never deleted). ``registration``
and ``object_statement_id`` are NULL for most statements: their indexes now leave
those rows out.

Revision ID: 0100_lean_statement_indexes
Revises: 0090_state_tally
Create Date: 2026-11-27 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100_lean_statement_indexes"
down_revision: str | Sequence[str] | None = "0090_state_tally"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTIAL = ("registration", "object_statement_id")


def upgrade() -> None:
    op.drop_index("ix_xapi_statement_stored", table_name="xapi_statement")
    op.drop_index("ix_xapi_statement_credential_id", table_name="xapi_statement")
    op.drop_index("ix_xapi_statement_agent_statement_id", table_name="xapi_statement_agent")
    op.drop_index(
        "ix_xapi_statement_activity_statement_id", table_name="xapi_statement_activity"
    )
    for column in PARTIAL:
        name = f"ix_xapi_statement_{column}"
        op.drop_index(name, table_name="xapi_statement")
        condition = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            name, "xapi_statement", [column], sqlite_where=condition, postgresql_where=condition
        )


def downgrade() -> None:
    for column in PARTIAL:
        name = f"ix_xapi_statement_{column}"
        op.drop_index(name, table_name="xapi_statement")
        op.create_index(name, "xapi_statement", [column])
    op.create_index(
        "ix_xapi_statement_activity_statement_id", "xapi_statement_activity", ["statement_id"]
    )
    op.create_index(
        "ix_xapi_statement_agent_statement_id", "xapi_statement_agent", ["statement_id"]
    )
    op.create_index("ix_xapi_statement_credential_id", "xapi_statement", ["credential_id"])
    op.create_index("ix_xapi_statement_stored", "xapi_statement", ["stored"])
