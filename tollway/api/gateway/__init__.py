"""The gateway's HTTP API: the `/v1` job API and Livepeer's `/process/request/{path}`."""

__all__ = ["app", "deps", "outputs", "routes", "services"]
