"""the xAPI document resources: State, Activity Profile, Agent Profile

Revision ID: 0110_xapi_documents
Revises: 0100_lean_statement_indexes
Create Date: 2026-11-27 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import referentiel.orm

revision: str = "0110_xapi_documents"
down_revision: str | Sequence[str] | None = "0100_lean_statement_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "xapi_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=20), nullable=False),
        sa.Column("activity_key", sa.String(length=64), nullable=False),
        sa.Column("agent_key", sa.String(length=64), nullable=False),
        sa.Column("registration", sa.String(length=36), nullable=False),
        sa.Column("document_key", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("updated", referentiel.orm.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xapi_document")),
        sa.UniqueConstraint(
            "realm",
            "resource",
            "activity_key",
            "agent_key",
            "registration",
            "document_key",
            name=op.f("uq_xapi_document_address"),
        ),
    )


def downgrade() -> None:
    op.drop_table("xapi_document")
