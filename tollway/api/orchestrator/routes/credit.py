"""`GET /v1/credit`: what each sender (a gateway's address) has in credit here, by capability,
and how much of it running jobs hold; secret-protected, as the operator's view."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tollway.api.orchestrator.deps import SecretChecked, Services

__all__ = ["credit", "router"]

router = APIRouter(dependencies=[SecretChecked])


@router.get("/v1/credit")
async def credit(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Every sender's credit and the EV it paid, by capability, in wei (strings: they exceed
    what a JavaScript number holds exactly)."""
    held = services.jobs.credit.held
    return {
        "credit": [
            {
                "sender": balance.sender,
                "capability": balance.capability,
                "balance_wei": str(balance.balance_wei),
                "received_wei": str(balance.received_wei),
                "held_wei": str(held.get((balance.sender, balance.capability), 0)),
            }
            for balance in services.ledger.balances()
        ]
    }
