"""Where the protocol contracts live: their addresses, and their ids in the Controller."""

from __future__ import annotations

from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict

__all__ = ["CONTRACT_FIELDS", "ContractAddresses", "contract_id"]


class ContractAddresses(BaseModel):
    """Checksummed addresses of the protocol contracts a deployment uses (the devnet's, or
    Livepeer's).

    Only `ticket_broker` and `rounds_manager` are required: a ChainClient looks the others up in
    the Controller that the TicketBroker names, so older settings files keep working.
    """

    model_config = ConfigDict(frozen=True)

    ticket_broker: str
    rounds_manager: str
    controller: str = ""
    bonding_manager: str = ""
    minter: str = ""
    token: str = ""
    service_registry: str = ""


CONTRACT_FIELDS = {
    "Controller": "controller",
    "LivepeerToken": "token",
    "Minter": "minter",
    "RoundsManager": "rounds_manager",
    "BondingManager": "bonding_manager",
    "TicketBroker": "ticket_broker",
    "ServiceRegistry": "service_registry",
}
"""Each contract's name (its Controller id is keccak256 of it) and its ContractAddresses field."""


def contract_id(name: str) -> bytes:
    """The Controller id of contract `name`: keccak256 of the name, as go-livepeer looks it up."""
    return keccak(text=name)
