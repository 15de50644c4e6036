"""The economics on each side of a ticket: the gateway's sender limits, spend ledger and funds;
the orchestrator's credit ledger, ticket intake (recipient), pricing and winning tickets."""

__all__ = ["funds", "keys", "ledger", "pricing", "recipient", "sender", "spend", "winners"]
