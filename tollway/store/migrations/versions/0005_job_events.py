"""A job's events, numbered per job: queued, started (on an orchestrator), and how it ended.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from tollway.store.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_events",
        sa.Column("job_id", sa.String(512), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "seq", name="pk_job_events"),
    )


def downgrade() -> None:
    op.drop_table("job_events")
