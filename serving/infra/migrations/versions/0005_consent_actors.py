"""Consent records say who acted (staff id, note); Art. 21 overrides of an objection.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("consent_records") as table:
        table.add_column(sa.Column("actor", sa.String(128), nullable=True))
        table.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.create_table(
        "consent_overrides",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("overridden_status", sa.String(16), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_consent_overrides_person", "consent_overrides", ["pseudonym", "purpose", "decided_at"])


def downgrade() -> None:
    op.drop_table("consent_overrides")
    with op.batch_alter_table("consent_records") as table:
        table.drop_column("note")
        table.drop_column("actor")
