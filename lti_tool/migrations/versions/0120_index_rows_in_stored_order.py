"""statement index rows ordered by the statement's ``stored`` within a key

The agent and activity index tables were indexed on ``(key, statement_id)``. Statement
ids are random UUIDs, so each new row went to a random page of those indexes: a batch
of 100 statements rewrote hundreds of pages once the store held a few thousand, and
its POST took 40 ms at 20,000 stored (SQLite, in-process) against 17 ms at 4,000.
The rows now carry their statement's ``stored`` (which never changes), indexed as
``(key, stored, statement_id)``: new rows go at the end of each key's range.

Revision ID: 0120_index_rows_in_stored_order
Revises: 0110_xapi_documents
Create Date: 2026-11-27 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import referentiel.orm

revision: str = "0120_index_rows_in_stored_order"
down_revision: str | Sequence[str] | None = "0110_xapi_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table, its index, its key column
TABLES = (
    ("xapi_statement_agent", "ix_xapi_statement_agent_key", "agent_key"),
    ("xapi_statement_activity", "ix_xapi_statement_activity_key", "activity_key"),
)


def _stored_type() -> referentiel.orm.UTCDateTime:
    return referentiel.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    for table, index, key in TABLES:
        op.drop_index(index, table_name=table)
        op.add_column(table, sa.Column("stored", _stored_type(), nullable=True))
        op.execute(
            f"UPDATE {table} SET stored = (SELECT s.stored FROM xapi_statement s "
            f"WHERE s.id = {table}.statement_id)"
        )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("stored", existing_type=_stored_type(), nullable=False)
        op.create_index(index, table, [key, "stored", "statement_id"])


def downgrade() -> None:
    for table, index, key in TABLES:
        op.drop_index(index, table_name=table)
        op.create_index(index, table, [key, "statement_id"])
        with op.batch_alter_table(table) as batch:
            batch.drop_column("stored")
