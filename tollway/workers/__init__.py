"""Process entry points: one Temporal worker per role."""

__all__ = ["gateway", "gpu", "orchestrator", "run", "schedules"]
