"""The gateway's view of the market: who offers what (sources, snapshot), how well they serve
(performance, circuit breakers, kept in the gateway database that every host shares) and whom to
try for a job (selection)."""

__all__ = ["breaker", "selection", "snapshot", "sources", "store", "tokens"]
