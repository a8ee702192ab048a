"""Served lists are deleted after the retention period: index them by when they were served.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_suggestions_served_at", "suggestions", ["served_at"])


def downgrade() -> None:
    op.drop_index("ix_suggestions_served_at", table_name="suggestions")
