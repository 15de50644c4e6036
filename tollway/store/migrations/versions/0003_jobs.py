"""The job index: every job's tenant, key, capability, state, cost and output retention.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from tollway.store.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(512), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("capability", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Column("orchestrator", sa.String(512), nullable=True),
        sa.Column("unit", sa.String(16), nullable=True),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("cost_wei", sa.String(80), nullable=True),
        sa.Column("error", sa.String(2048), nullable=True),
        sa.Column("input_artifact", sa.String(64), nullable=True),
        sa.Column("output_artifact", sa.String(64), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("data_removed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_tenant_created", "jobs", ["tenant", "created_at", "id"])
    op.create_index("ix_jobs_expires", "jobs", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_expires", "jobs")
    op.drop_index("ix_jobs_tenant_created", "jobs")
    op.drop_table("jobs")
