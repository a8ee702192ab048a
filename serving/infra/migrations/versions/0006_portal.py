"""The citizen portal: a resident's own settings, saved services and "something is wrong" requests.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizen_preferences",
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sa.Column("sensitive_suggestions", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "saved_services",
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sa.Column("service_id", sa.String(64), primary_key=True),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "correction_requests",
        sa.Column("id", id_type, primary_key=True, autoincrement=True),
        sa.Column("pseudonym", sa.String(64), nullable=False),
        sa.Column("about", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_correction_requests_person", "correction_requests", ["pseudonym"])


def downgrade() -> None:
    op.drop_index("ix_correction_requests_person", table_name="correction_requests")
    op.drop_table("correction_requests")
    op.drop_table("saved_services")
    op.drop_table("citizen_preferences")
