"""Live streams: the trickle channels the orchestrator serves (segments published and read
over HTTP as they are written)."""

__all__ = ["trickle"]
