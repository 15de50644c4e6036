"""Deploy tollway's devnet protocol contracts, register them in a Controller, open a round."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import Nonce, TxParams, TxReceipt

from tollway.chain.addresses import CONTRACT_FIELDS, ContractAddresses, contract_id
from tollway.chain.artifacts import load_artifact
from tollway.errors import ChainError

__all__ = ["DEFAULT_MINTABLE_PER_ROUND", "LPT", "deploy_devnet"]

LPT = 10**18
DEFAULT_ROUND_LENGTH = 1000
DEFAULT_UNBONDING_PERIOD = 7  # rounds, as on Livepeer's Arbitrum deployment
DEFAULT_UNLOCK_PERIOD = 2  # rounds
DEFAULT_NUM_ACTIVE_TRANSCODERS = 100
DEFAULT_GENESIS_SUPPLY = 10_000_000 * LPT  # minted to the deployer
DEFAULT_MINTABLE_PER_ROUND = 1_000 * LPT


class _Deployer:
    """Signs and sends the deployer's transactions one after another, tracking its nonce."""

    def __init__(self, w3: Web3, key: bytes) -> None:
        self.w3 = w3
        self.key = key
        self.address = Account.from_key(key).address
        self.nonce = int(w3.eth.get_transaction_count(self.address, "pending"))

    def _send(self, tx: TxParams, what: str) -> TxReceipt:
        signed = Account.sign_transaction(dict(tx), self.key)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self.nonce += 1
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        if receipt["status"] != 1:
            raise ChainError(f"{what} failed in transaction {tx_hash.to_0x_hex()}", reverted=True)
        return receipt

    def _fields(self) -> TxParams:
        return {"from": self.address, "nonce": Nonce(self.nonce)}

    def deploy(self, name: str, *args: Any) -> ChecksumAddress:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        tx = factory.constructor(*args).build_transaction(self._fields())
        address = self._send(tx, f"deploying {name}")["contractAddress"]
        if address is None:
            raise ChainError(f"deploying {name} created no contract", reverted=True)
        return address

    def call(self, function: ContractFunction, what: str) -> TxReceipt:
        return self._send(function.build_transaction(self._fields()), what)


def deploy_devnet(
    rpc_url: str,
    deployer_key: bytes,
    round_length: int = DEFAULT_ROUND_LENGTH,
    *,
    unbonding_period: int = DEFAULT_UNBONDING_PERIOD,
    unlock_period: int = DEFAULT_UNLOCK_PERIOD,
    num_active_transcoders: int = DEFAULT_NUM_ACTIVE_TRANSCODERS,
    genesis_supply: int = DEFAULT_GENESIS_SUPPLY,
    mintable_per_round: int = DEFAULT_MINTABLE_PER_ROUND,
) -> ContractAddresses:
    """Deploy every contract from `deployer_key` (which owns the Controller and receives the
    genesis LPT), register each in the Controller, and initialize the current round."""
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    deployer = _Deployer(w3, deployer_key)
    controller = deployer.deploy("Controller")
    addresses = {
        "Controller": controller,
        "LivepeerToken": deployer.deploy("LivepeerToken", controller, genesis_supply),
        "Minter": deployer.deploy("Minter", controller, mintable_per_round),
        "RoundsManager": deployer.deploy("RoundsManager", controller, round_length),
        "BondingManager": deployer.deploy(
            "BondingManager", controller, unbonding_period, num_active_transcoders
        ),
        "TicketBroker": deployer.deploy("TicketBroker", controller, unlock_period),
        "ServiceRegistry": deployer.deploy("ServiceRegistry", controller),
    }

    registry = w3.eth.contract(address=controller, abi=load_artifact("Controller").abi)
    for name, address in addresses.items():
        register = registry.functions.setContractInfo(contract_id(name), address, b"\x00" * 20)
        deployer.call(register, f"registering {name}")

    rounds = w3.eth.contract(
        address=addresses["RoundsManager"], abi=load_artifact("RoundsManager").abi
    )
    if not rounds.functions.currentRoundInitialized().call():
        deployer.call(rounds.functions.initializeRound(), "initializeRound")
    return ContractAddresses(**{CONTRACT_FIELDS[name]: a for name, a in addresses.items()})
