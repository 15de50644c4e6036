"""The gateway's routes: each decodes a request, calls the services and answers."""

__all__ = ["health", "jobs", "market", "process", "streams", "tenant_streams"]
