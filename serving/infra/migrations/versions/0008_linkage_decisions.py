"""A data steward's decisions on uncertain partner-record links (clerical review).

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "linkage_decisions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("partner_record", sa.String(64), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_linkage_decisions_pair", "linkage_decisions", ["partner_record", "person", "decided_at"])


def downgrade() -> None:
    op.drop_table("linkage_decisions")
