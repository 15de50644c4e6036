"""Process entry points: one Temporal worker per role."""
