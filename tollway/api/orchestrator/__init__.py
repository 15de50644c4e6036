"""The orchestrator's HTTP API: Livepeer BYOC endpoints plus a small admin surface. `serving`
runs a paid job; `pricing`, `credit`, `bodies`, `workers` and `winners` each own one concern of
the services the routes share."""

__all__ = [
    "app",
    "bodies",
    "credit",
    "deps",
    "pricing",
    "routes",
    "services",
    "serving",
    "winners",
    "workers",
]
