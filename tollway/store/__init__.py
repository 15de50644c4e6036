"""The gateway's storage: job inputs and outputs as files named by id, and live outputs."""

__all__ = ["artifacts", "live"]
