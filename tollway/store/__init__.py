"""The gateway's storage: job inputs and outputs as files named by id."""

__all__ = ["artifacts"]
