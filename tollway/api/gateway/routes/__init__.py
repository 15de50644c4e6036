"""The gateway's routes: each decodes a request, calls the services and answers."""

__all__ = [
    "budgets",
    "events",
    "health",
    "jobs",
    "keys",
    "market",
    "process",
    "streams",
    "tenant_streams",
    "tenants",
    "usage",
    "webhooks",
]
