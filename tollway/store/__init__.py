"""The gateway's database (tenants and keys, idempotency records, budgets, the job index, the
market's tables that tollway/market/store.py keeps:
SQLAlchemy on SQLite or PostgreSQL, one schema with Alembic migrations) and its job bytes: inputs
and outputs as files named by id, live outputs, the spools that keep large bodies out of memory,
and their retention."""

__all__ = [
    "artifacts",
    "budgets",
    "database",
    "idempotency",
    "jobs",
    "live",
    "retention",
    "schema",
    "spool",
    "tenants",
]
