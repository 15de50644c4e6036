"""The gateway's HTTP API: the `/v1` job and stream APIs, and Livepeer's `/process/request/{path}`
and `/process/stream`."""

__all__ = ["app", "deps", "outputs", "routes", "services", "stream_list", "streams"]
