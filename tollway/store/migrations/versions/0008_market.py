"""The gateway's market memory in the shared database (it was a SQLite file per host): the
network snapshot, performance per (orchestrator, capability), a circuit breaker per
orchestrator, and the one row of version counters that every process polls. What a host's old
`market.sqlite` held is not carried over: the next refresh remakes the snapshot, and scores and
breakers learn again from the next jobs.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_orchestrators",
        sa.Column("url", sa.String(512), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("info", sa.JSON(), nullable=True),
        sa.Column("info_error", sa.Text(), nullable=False),
        sa.Column("stake", sa.String(80), nullable=True),
        sa.Column("refreshed_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("url", name="pk_market_orchestrators"),
    )
    op.create_table(
        "market_performance",
        sa.Column("url", sa.String(512), nullable=False),
        sa.Column("capability", sa.String(128), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("success", sa.Double(), nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("url", "capability", name="pk_market_performance"),
    )
    op.create_table(
        "market_breakers",
        sa.Column("url", sa.String(512), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("openings", sa.Integer(), nullable=False),
        sa.Column("open_until", sa.Double(), nullable=False),
        sa.Column("last_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("url", name="pk_market_breakers"),
    )
    versions = op.create_table(
        "market_versions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("snapshot_generation", sa.BigInteger(), nullable=False),
        sa.Column("snapshot_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_market_versions"),
    )
    op.bulk_insert(versions, [{"id": 1, "version": 0, "snapshot_generation": 0, "snapshot_at": 0}])


def downgrade() -> None:
    op.drop_table("market_versions")
    op.drop_table("market_breakers")
    op.drop_table("market_performance")
    op.drop_table("market_orchestrators")
