"""The orchestrator's HTTP API: Livepeer BYOC endpoints plus a small admin surface. `serving`
runs a paid job, `streams` the live streams; `pricing`, `credit`, `bodies`, `workers` and
`winners` each own one concern of the services the routes share."""

__all__ = [
    "app",
    "bodies",
    "credit",
    "deps",
    "pricing",
    "routes",
    "services",
    "serving",
    "streams",
    "winners",
    "workers",
]
