"""FastAPI apps: the gateway's client API and the orchestrator's Livepeer-compatible API."""

__all__ = ["body", "console", "errors", "gateway", "metrics", "openapi", "orchestrator", "trickle"]
