"""The one path from tollway to a node, shared by every contract view so that they all fail over
together, never race each other for a key's nonce, and fail the same way.

Keys are raw 32-byte private keys; transactions are signed locally and sent raw. Every chain
failure surfaces as `tollway.errors.ChainError` with `reverted=True` when the contract refused
(the message is the revert reason) and `reverted=False` for RPC or transport faults.

TicketBroker and RoundsManager come from the ContractAddresses given; the others (BondingManager,
Minter, LivepeerToken, ServiceRegistry) from their fields when set, else from the Controller the
TicketBroker names, looked up once on first use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, ClassVar, Self, cast

import aiohttp
from eth_account import Account
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract.async_contract import AsyncContract, AsyncContractFunction
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception
from web3.types import TxParams, TxReceipt, Wei

from tollway.chain.addresses import CONTRACT_FIELDS, ContractAddresses, contract_id
from tollway.chain.artifacts import load_artifact
from tollway.errors import ChainError

__all__ = ["GAS_MARGIN", "ChainEngine", "ContractView", "revert_reason", "tx_hash"]

_TRANSPORT_ERRORS = (Web3Exception, aiohttp.ClientError, OSError, TimeoutError)
_TRANSFER_GAS = 21_000

GAS_MARGIN = 1.25
"""Gas limit over eth_estimateGas: unused gas is refunded, a limit too tight reverts."""


def _bumped(tx: TxParams) -> TxParams:
    """The same transaction with every fee 25% higher (nodes replace at +10% or more)."""
    fields: dict[str, Any] = dict(tx)
    for fee in ("maxFeePerGas", "maxPriorityFeePerGas", "gasPrice"):
        if fee in fields:
            fields[fee] = int(fields[fee]) * 5 // 4 + 1
    return cast(TxParams, fields)


def revert_reason(error: ContractLogicError) -> str:
    """The contract's revert string, without web3's "execution reverted: " prefix."""
    message = error.message or str(error)
    prefix = "execution reverted: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def tx_hash(receipt: TxReceipt) -> str:
    """The 0x-prefixed hash of the transaction a receipt is for."""
    return receipt["transactionHash"].to_0x_hex()


@asynccontextmanager
async def _chain_errors(what: str) -> AsyncIterator[None]:
    try:
        yield
    except ChainError:
        raise
    except ContractLogicError as exc:
        raise ChainError(revert_reason(exc), reverted=True, operation=what) from exc
    except _TRANSPORT_ERRORS as exc:
        raise ChainError(f"{what}: {exc!r}", reverted=False, operation=what) from exc


class ChainEngine:
    """One node connection (with fallbacks), the nonce locks of the keys sent from, and the
    contracts looked up so far."""

    def __init__(
        self,
        rpc_url: str,
        contracts: ContractAddresses,
        *,
        receipt_timeout: float = 120.0,
        fallback_urls: Sequence[str] = (),
        max_replacements: int = 1,
    ) -> None:
        self.rpc_url = rpc_url
        self.max_replacements = max_replacements
        self._urls = [rpc_url, *fallback_urls]
        self.contracts = contracts
        self.receipt_timeout = receipt_timeout
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url))
        self._chain_id: int | None = None
        self._nonce_locks: dict[str, asyncio.Lock] = {}
        self._contracts: dict[str, AsyncContract] = {
            name: self._at(name, address)
            for name, address in (
                ("TicketBroker", contracts.ticket_broker),
                ("RoundsManager", contracts.rounds_manager),
            )
        }

    async def aclose(self) -> None:
        await self.w3.provider.disconnect()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @asynccontextmanager
    async def errors(self, what: str) -> AsyncIterator[None]:
        """Chain failures as ChainError, and on a transport fault the next RPC URL for the next
        call (the caller's retry then reaches a node that answers)."""
        try:
            async with _chain_errors(what):
                yield
        except ChainError as exc:
            if not exc.details.get("reverted") and len(self._urls) > 1:
                failed = self._urls.index(self.rpc_url)
                self.rpc_url = self._urls[(failed + 1) % len(self._urls)]
                await self.w3.provider.disconnect()
                self.w3.provider = AsyncHTTPProvider(self.rpc_url)
                exc.details["next_rpc_url"] = self.rpc_url
            raise

    # ---- reads ---------------------------------------------------------------------------

    async def _view(self, function: AsyncContractFunction, what: str) -> Any:
        async with self.errors(what):
            return await function.call()

    async def call(self, contract: str, method: str, *args: Any) -> Any:
        """eth_call of `contract.method(*args)` (a ChainError names the method)."""
        function = (await self.contract(contract)).functions[method](*args)
        return await self._view(function, method)

    def _at(self, name: str, address: str) -> AsyncContract:
        return self.w3.eth.contract(
            address=to_checksum_address(address), abi=load_artifact(name).abi
        )

    async def contract(self, name: str) -> AsyncContract:
        """The web3 contract `name` (a key of CONTRACT_FIELDS), its address looked up if needed."""
        contract = self._contracts.get(name)
        if contract is None:
            address = getattr(self.contracts, CONTRACT_FIELDS[name]) or await self._lookup(name)
            contract = self._contracts[name] = self._at(name, address)
        return contract

    async def _lookup(self, name: str) -> str:
        if name == "Controller":
            broker = self._contracts["TicketBroker"]
            return str(await self._view(broker.functions.controller(), "controller"))
        controller = await self.contract("Controller")
        function = controller.functions.getContract(contract_id(name))
        address = str(await self._view(function, f"getContract({name})"))
        if int(address, 16) == 0:
            raise ChainError(
                f"no {name} is registered in the Controller",
                reverted=False,
                operation="getContract",
            )
        return address

    async def chain_id(self) -> int:
        if self._chain_id is None:
            async with self.errors("eth_chainId"):
                self._chain_id = await self.w3.eth.chain_id
        return self._chain_id

    async def block_number(self) -> int:
        async with self.errors("eth_blockNumber"):
            return int(await self.w3.eth.block_number)

    async def gas_price(self) -> int:
        async with self.errors("eth_gasPrice"):
            return int(await self.w3.eth.gas_price)

    async def balance(self, address: str) -> int:
        async with self.errors("eth_getBalance"):
            return int(await self.w3.eth.get_balance(to_checksum_address(address)))

    # ---- transactions --------------------------------------------------------------------

    def _nonce_lock(self, address: str) -> asyncio.Lock:
        return self._nonce_locks.setdefault(address, asyncio.Lock())

    async def _transact(
        self, key: bytes, what: str, function: AsyncContractFunction | None, tx: TxParams
    ) -> TxReceipt:
        """Build, sign, send and await one transaction; a revert raises ChainError."""
        sender = Account.from_key(key).address
        async with self._nonce_lock(sender):
            async with self.errors(what):
                tx = {**tx, "from": sender}
                tx["nonce"] = await self.w3.eth.get_transaction_count(sender, "pending")
                if function is not None:
                    tx = await function.build_transaction(tx)
                    # The estimate is for the state it ran on; a transaction mined after
                    # another that warms or first writes a slot it touches can need more.
                    tx["gas"] = int(tx["gas"] * GAS_MARGIN)
                else:
                    tx.update(await self._fee_fields())
                    tx["chainId"] = await self.chain_id()
                signed = Account.sign_transaction(dict(tx), key)
                sent = [await self.w3.eth.send_raw_transaction(signed.raw_transaction)]
        try:
            async with self.errors(what):
                receipt = await self._mined(sent)
                for _ in range(self.max_replacements):
                    if receipt is not None:
                        break
                    # Stuck: the same nonce again with fees 25% higher (nodes want >= 10%).
                    tx = _bumped(tx)
                    signed = Account.sign_transaction(dict(tx), key)
                    sent.append(await self.w3.eth.send_raw_transaction(signed.raw_transaction))
                    receipt = await self._mined(sent)
                if receipt is None:
                    raise ChainError(
                        f"{what}: no receipt within {self.receipt_timeout} s after "
                        f"{len(sent) - 1} replacement(s)",
                        reverted=False,
                    )
        except ChainError as exc:
            exc.details["tx_hash"] = sent[-1].to_0x_hex()
            raise
        hex_hash = tx_hash(receipt)
        if receipt["status"] != 1:
            raise ChainError(
                f"{what} reverted in transaction {hex_hash}", reverted=True, tx_hash=hex_hash
            )
        return receipt

    async def _mined(self, hashes: list[HexBytes]) -> TxReceipt | None:
        """The receipt of whichever of `hashes` (one nonce) is mined, or None on timeout."""
        deadline = time.monotonic() + self.receipt_timeout
        while time.monotonic() < deadline:
            for sent in reversed(hashes):
                try:
                    return await self.w3.eth.get_transaction_receipt(sent)
                except TransactionNotFound:
                    continue
            await asyncio.sleep(0.1)
        return None

    async def _fee_fields(self) -> TxParams:
        latest = await self.w3.eth.get_block("latest")
        priority = await self.w3.eth.max_priority_fee
        base_fee = latest.get("baseFeePerGas", 0)
        return {"maxPriorityFeePerGas": priority, "maxFeePerGas": Wei(2 * base_fee + priority)}

    async def transfer(self, key: bytes, to: str, wei: int) -> str:
        tx: TxParams = {"to": to_checksum_address(to), "value": Wei(wei), "gas": _TRANSFER_GAS}
        return tx_hash(await self._transact(key, "transfer", None, tx))

    async def transact(
        self, key: bytes, contract: str, method: str, *args: Any, value: int = 0
    ) -> TxReceipt:
        """Send `contract.method(*args)` from `key` (any method; the views' named ones wrap it)."""
        function = (await self.contract(contract)).functions[method](*args)
        tx: TxParams = {"value": Wei(value)} if value else {}
        return await self._transact(key, method, function, tx)


class ContractView:
    """One contract's calls, sent through a shared engine (its failover, nonces and errors)."""

    CONTRACT: ClassVar[str]

    def __init__(self, engine: ChainEngine) -> None:
        self._engine = engine

    async def contract(self) -> AsyncContract:
        """The web3 contract behind this view (for its events, or a raw call)."""
        return await self._engine.contract(self.CONTRACT)

    async def _call(self, method: str, *args: Any) -> Any:
        return await self._engine.call(self.CONTRACT, method, *args)

    async def _transact(self, key: bytes, method: str, *args: Any, value: int = 0) -> TxReceipt:
        return await self._engine.transact(key, self.CONTRACT, method, *args, value=value)

    async def _send(self, key: bytes, method: str, *args: Any, value: int = 0) -> str:
        """`_transact`, answering the transaction's hash."""
        return tx_hash(await self._transact(key, method, *args, value=value))
