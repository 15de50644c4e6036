"""A key's own rate limits, and the index that counts its jobs in flight.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=True))
    op.create_index("ix_jobs_key_state", "jobs", ["key_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_jobs_key_state", "jobs")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("limits")
