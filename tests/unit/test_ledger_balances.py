"""The ledger lists every sender's credit by capability, floored to whole wei, for the
orchestrator's `GET /v1/credit` (the operator console's credit table)."""

from __future__ import annotations

from pathlib import Path

from tollway.payments.ledger import Balance, Ledger
from tollway.protocol.ticket import MAX_UINT256


def test_the_ledger_lists_every_senders_credit(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        with ledger.transaction() as db:
            Ledger.add_units(db, "0xb", "echo", 5 * MAX_UINT256)
            Ledger.add_units(db, "0xa", "echo", 7 * MAX_UINT256 + 1)
        assert ledger.balances() == [Balance("0xa", "echo", 7, 0), Balance("0xb", "echo", 5, 0)]
    finally:
        ledger.close()
