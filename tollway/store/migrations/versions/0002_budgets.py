"""Budgets: spend limits per tenant or key, their usage per window, and each job's hold.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from tollway.store.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("amount", sa.String(80), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_budgets"),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.name"], name="fk_budgets_tenant_tenants"),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name="fk_budgets_key_id_api_keys"),
    )
    op.create_index("ix_budgets_tenant", "budgets", ["tenant"])
    op.create_table(
        "budget_usage",
        sa.Column("budget_id", sa.String(32), nullable=False),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("spent_wei", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("budget_id", "window_start", name="pk_budget_usage"),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
            name="fk_budget_usage_budget_id_budgets",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "budget_holds",
        sa.Column("job_id", sa.String(512), nullable=False),
        sa.Column("budget_id", sa.String(32), nullable=False),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.Column("reserved_wei", sa.String(80), nullable=False),
        sa.Column("cost_wei", sa.String(80), nullable=True),
        sa.Column("settled_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "budget_id", name="pk_budget_holds"),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
            name="fk_budget_holds_budget_id_budgets",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("budget_holds")
    op.drop_table("budget_usage")
    op.drop_index("ix_budgets_tenant", "budgets")
    op.drop_table("budgets")
