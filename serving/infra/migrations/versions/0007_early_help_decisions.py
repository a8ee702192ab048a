"""Early help: practitioners' decisions per child, and families' requests for a review.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "early_help_decisions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("household", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("band", sa.String(8), nullable=True),
        sa.Column("model_version", sa.String(32), nullable=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_index("ix_early_help_decisions_person", "early_help_decisions", ["pseudonym"])
    op.create_index("ix_early_help_decisions_household", "early_help_decisions", ["household"])
    op.create_table(
        "early_help_requests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("household", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_index("ix_early_help_requests_household", "early_help_requests", ["household"])


def downgrade() -> None:
    op.drop_table("early_help_requests")
    op.drop_table("early_help_decisions")
