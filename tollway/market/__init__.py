"""The gateway's view of the market: who offers what (sources, snapshot), how well they serve
(performance, circuit breakers, kept in a sqlite store) and whom to try for a job (selection)."""

__all__ = ["breaker", "selection", "snapshot", "sources", "store", "tokens"]
