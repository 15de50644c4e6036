"""The orchestrator's routes: each decodes a request, calls the services and answers."""

__all__ = ["admin", "capability", "credit", "process", "stream"]
