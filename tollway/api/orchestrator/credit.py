"""Credit held by running jobs, so a sender's concurrent jobs cannot spend the same credit.

A job's cost is debited only when it ends; until then it holds its minimum credit here. Held
in memory: after a restart no job is running, so nothing is held.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tollway.config import OrchestratorSettings
from tollway.errors import InsufficientCredit
from tollway.payments.ledger import Ledger

__all__ = ["CreditHolds", "min_credit_units"]


def min_credit_units(unit: str, settings: OrchestratorSettings) -> int:
    """Credit a job needs before it starts: go-livepeer's 60 s for second-priced capabilities,
    one request or one frame otherwise."""
    return settings.min_credit_seconds if unit == "second" else 1


class CreditHolds:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.held: dict[tuple[str, str], int] = {}
        """Wei held by running jobs, by (sender, capability)."""

    @contextlib.contextmanager
    def admit(self, sender: str, capability: str, minimum: int) -> Iterator[int]:
        """Admit a job only if credit not held by the sender's other running jobs covers
        `minimum`, and hold that much until the job ends (yields the credit it saw)."""
        key = (sender, capability)
        held = self.held.get(key, 0)
        balance = self.ledger.balance_wei(sender, capability)
        if balance - held < minimum:
            raise InsufficientCredit(
                f"credit {balance} wei ({held} wei held by running jobs) is below the "
                f"{minimum} wei minimum",
                balance=balance,
                held=held,
                required=minimum,
            )
        self.held[key] = held + minimum
        try:
            yield balance
        finally:
            self.held[key] -= minimum
            if not self.held[key]:
                del self.held[key]
