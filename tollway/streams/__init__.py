"""Live streams: trickle channels (segments published and read over HTTP as they are written)
and the relay between the gateway's channels and an orchestrator's."""

__all__ = ["relay", "trickle"]
