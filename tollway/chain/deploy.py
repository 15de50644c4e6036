"""Deploy tollway's RoundsManager and TicketBroker to a devnet and initialize the first round."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_typing import ChecksumAddress
from pydantic import BaseModel, ConfigDict
from web3 import Web3
from web3.types import TxParams, TxReceipt

from tollway.chain.artifacts import load_artifact
from tollway.errors import ChainError

DEFAULT_ROUND_LENGTH = 1000


class DevnetContracts(BaseModel):
    """Checksummed addresses of the devnet contracts."""

    model_config = ConfigDict(frozen=True)

    ticket_broker: str
    rounds_manager: str


def _tx_fields(w3: Web3, key: bytes) -> TxParams:
    sender = Account.from_key(key).address
    return {"from": sender, "nonce": w3.eth.get_transaction_count(sender, "pending")}


def _send(w3: Web3, key: bytes, tx: TxParams, what: str) -> TxReceipt:
    signed = Account.sign_transaction(dict(tx), key)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    if receipt["status"] != 1:
        raise ChainError(f"{what} failed in transaction {tx_hash.to_0x_hex()}", reverted=True)
    return receipt


def _deploy(w3: Web3, key: bytes, name: str, *args: Any) -> ChecksumAddress:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(*args).build_transaction(_tx_fields(w3, key))
    address = _send(w3, key, tx, f"deploying {name}")["contractAddress"]
    if address is None:
        raise ChainError(f"deploying {name} created no contract", reverted=True)
    return address


def deploy_devnet(
    rpc_url: str, deployer_key: bytes, round_length: int = DEFAULT_ROUND_LENGTH
) -> DevnetContracts:
    """Deploy both contracts from `deployer_key` and initialize the current round."""
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    rounds_manager = _deploy(w3, deployer_key, "RoundsManager", round_length)
    ticket_broker = _deploy(w3, deployer_key, "TicketBroker", rounds_manager)

    rounds = w3.eth.contract(address=rounds_manager, abi=load_artifact("RoundsManager").abi)
    if not rounds.functions.currentRoundInitialized().call():
        tx = rounds.functions.initializeRound().build_transaction(_tx_fields(w3, deployer_key))
        _send(w3, deployer_key, tx, "initializeRound")
    return DevnetContracts(ticket_broker=ticket_broker, rounds_manager=rounds_manager)
