"""Ticket nonces per recipientRandHash in the shared database, so that gateway workers on
several hosts never sign one nonce twice for the same ticket params.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from tollway.store.schema import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pm_sessions",
        sa.Column("recipient_rand_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("last_nonce", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("recipient_rand_hash", name="pk_pm_sessions"),
    )
    op.create_index("ix_pm_sessions_created", "pm_sessions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_pm_sessions_created", table_name="pm_sessions")
    op.drop_table("pm_sessions")
