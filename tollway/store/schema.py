"""The gateway database's tables (SQLAlchemy Core). A change here needs a migration in
`migrations/versions/`; a test compares the migrated schema with this one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

__all__ = [
    "UtcDateTime",
    "api_keys",
    "budget_alerts",
    "budget_holds",
    "budget_usage",
    "budgets",
    "idempotency_keys",
    "job_events",
    "jobs",
    "market_breakers",
    "market_orchestrators",
    "market_performance",
    "market_versions",
    "metadata",
    "pm_sessions",
    "tenants",
    "webhook_attempts",
    "webhook_deliveries",
    "webhooks",
]


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases (SQLite keeps no zone, so it is added back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: tollway stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tenants = Table(
    "tenants",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled_at", UtcDateTime()),
    # Signs the webhooks given with a job (`whsec_...`); made when first needed.
    Column("webhook_secret", String(64)),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), ForeignKey("tenants.name"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("scopes", JSON(), nullable=False),
    Column("capabilities", JSON()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
    Column("last_used_at", UtcDateTime()),
    Column("replaced_by", String(32)),
    Column("limits", JSON()),
    Index("ix_api_keys_tenant", "tenant"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("job_id", String(512), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

WEI = String(80)
"""Wei amounts as decimal text: they pass 2^63, and SQLite's numbers would round them."""

budgets = Table(
    "budgets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), ForeignKey("tenants.name"), nullable=False),
    Column("key_id", String(32), ForeignKey("api_keys.id")),
    Column("period", String(8), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("amount", String(80), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("version", Integer(), nullable=False),
    Index("ix_budgets_tenant", "tenant"),
)

budget_usage = Table(
    "budget_usage",
    metadata,
    Column("budget_id", String(32), ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True),
    Column("window_start", UtcDateTime(), primary_key=True),
    Column("spent_wei", WEI, nullable=False),
)

budget_holds = Table(
    "budget_holds",
    metadata,
    Column("job_id", String(512), primary_key=True),
    Column("budget_id", String(32), ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True),
    Column("window_start", UtcDateTime(), nullable=False),
    Column("reserved_wei", WEI, nullable=False),
    Column("cost_wei", WEI),
    Column("settled_at", UtcDateTime()),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(512), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("key_id", String(32)),
    Column("capability", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),
    Column("orchestrator", String(512)),
    Column("unit", String(16)),
    Column("units", Integer()),
    Column("cost_wei", WEI),
    Column("error", String(2048)),
    Column("input_artifact", String(64)),
    Column("output_artifact", String(64)),
    Column("expires_at", UtcDateTime()),
    Column("data_removed_at", UtcDateTime()),
    Index("ix_jobs_tenant_created", "tenant", "created_at", "id"),
    Index("ix_jobs_expires", "expires_at"),
    Index("ix_jobs_key_state", "key_id", "state"),
)

job_events = Table(
    "job_events",
    metadata,
    Column("job_id", String(512), primary_key=True),
    Column("seq", Integer(), primary_key=True, autoincrement=False),
    Column("type", String(32), nullable=False),
    Column("data", JSON(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

budget_alerts = Table(
    "budget_alerts",
    metadata,
    Column("budget_id", String(32), ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True),
    Column("window_start", UtcDateTime(), primary_key=True),
    Column("percent", Integer(), primary_key=True, autoincrement=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), ForeignKey("tenants.name"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("event_types", JSON(), nullable=False),
    Column("job_id", String(512)),
    Column("secret", String(64), nullable=False),
    Column("description", String(256)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime()),
    Index("ix_webhooks_tenant", "tenant"),
    Index("ix_webhooks_job_id", "job_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("webhook_id", String(32), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("job_id", String(512)),
    Column("event_type", String(32), nullable=False),
    Column("payload", JSON(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("replays", Integer(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("dispatched_at", UtcDateTime()),
    Column("last_attempt_at", UtcDateTime()),
    Column("last_status", Integer()),
    Column("last_error", String(1024)),
    Column("delivered_at", UtcDateTime()),
    Index("ix_webhook_deliveries_tenant_created", "tenant", "created_at", "id"),
    Index("ix_webhook_deliveries_dispatched", "dispatched_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("delivery_id", String(40), primary_key=True),
    Column("number", Integer(), primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("status", Integer()),
    Column("error", String(1024)),
    Column("duration_ms", Integer(), nullable=False),
)

pm_sessions = Table(
    # The last ticket nonce signed for each recipientRandHash, shared by every gateway worker:
    # a job that resumes on another host pays again on params the first host already used.
    "pm_sessions",
    metadata,
    Column("recipient_rand_hash", LargeBinary(32), primary_key=True),
    Column("last_nonce", BigInteger(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_pm_sessions_created", "created_at"),
)

# The gateway's market memory, shared by every gateway process on every host
# (tollway/market/store.py). Times are Unix seconds, as the breakers reckon them.

market_orchestrators = Table(
    # The network as the latest refresh saw it: every URL a source listed, and its info.
    "market_orchestrators",
    metadata,
    Column("url", String(512), primary_key=True),
    Column("sources", JSON(), nullable=False),
    Column("info", JSON(none_as_null=True)),
    Column("info_error", Text(), nullable=False),
    Column("stake", WEI),
    Column("refreshed_at", Double(), nullable=False),
)

market_performance = Table(
    "market_performance",
    metadata,
    Column("url", String(512), primary_key=True),
    Column("capability", String(128), primary_key=True),
    Column("latency_ms", Double()),
    Column("success", Double(), nullable=False),
    Column("jobs", Integer(), nullable=False),
    Column("failures", Integer(), nullable=False),
)

market_breakers = Table(
    "market_breakers",
    metadata,
    Column("url", String(512), primary_key=True),
    Column("consecutive_failures", Integer(), nullable=False),
    Column("openings", Integer(), nullable=False),
    Column("open_until", Double(), nullable=False),
    Column("last_reason", Text(), nullable=False),
)

market_versions = Table(
    # One row, made by the migration: `version` grows with every market write and
    # `snapshot_generation` with every snapshot, so that a process re-reads the tables above
    # only when they changed. Every market write first updates this row: its lock orders them.
    "market_versions",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=False),
    Column("version", BigInteger(), nullable=False),
    Column("snapshot_generation", BigInteger(), nullable=False),
    Column("snapshot_at", Double(), nullable=False),
)
