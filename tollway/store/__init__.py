"""Job bytes: the gateway's inputs and outputs as files named by id, its live outputs, and the
spools that keep large bodies out of memory."""

__all__ = ["artifacts", "live", "spool"]
