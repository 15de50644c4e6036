"""Async access to the devnet TicketBroker and RoundsManager (web3 AsyncHTTPProvider).

Keys are raw 32-byte private keys; transactions are signed locally and sent raw. Every chain
failure surfaces as `tollway.errors.ChainError` with `reverted=True` when the contract refused
(the message is the revert reason) and `reverted=False` for RPC or transport faults.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import aiohttp
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract.async_contract import AsyncContractFunction
from web3.exceptions import ContractLogicError, Web3Exception
from web3.logs import DISCARD
from web3.types import TxParams, TxReceipt, Wei

from tollway.chain.artifacts import load_artifact
from tollway.chain.deploy import DevnetContracts
from tollway.chain.types import Redemption, SenderInfo
from tollway.errors import ChainError
from tollway.payments.ticket import Ticket, u256

_TRANSPORT_ERRORS = (Web3Exception, aiohttp.ClientError, OSError, TimeoutError)
_TRANSFER_GAS = 21_000


def revert_reason(error: ContractLogicError) -> str:
    """The contract's revert string, without web3's "execution reverted: " prefix."""
    message = error.message or str(error)
    prefix = "execution reverted: "
    return message[len(prefix) :] if message.startswith(prefix) else message


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


class ChainClient:
    def __init__(
        self, rpc_url: str, contracts: DevnetContracts, *, receipt_timeout: float = 120.0
    ) -> None:
        self.rpc_url = rpc_url
        self.contracts = contracts
        self.receipt_timeout = receipt_timeout
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url))
        self.broker = self.w3.eth.contract(
            address=to_checksum_address(contracts.ticket_broker),
            abi=load_artifact("TicketBroker").abi,
        )
        self.rounds = self.w3.eth.contract(
            address=to_checksum_address(contracts.rounds_manager),
            abi=load_artifact("RoundsManager").abi,
        )
        self._chain_id: int | None = None
        self._nonce_locks: dict[str, asyncio.Lock] = {}

    async def aclose(self) -> None:
        await self.w3.provider.disconnect()

    async def __aenter__(self) -> ChainClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ---- reads ---------------------------------------------------------------------------

    async def _view(self, function: AsyncContractFunction, what: str) -> Any:
        async with _chain_errors(what):
            return await function.call()

    async def chain_id(self) -> int:
        if self._chain_id is None:
            async with _chain_errors("eth_chainId"):
                self._chain_id = await self.w3.eth.chain_id
        return self._chain_id

    async def block_number(self) -> int:
        async with _chain_errors("eth_blockNumber"):
            return int(await self.w3.eth.block_number)

    async def gas_price(self) -> int:
        async with _chain_errors("eth_gasPrice"):
            return int(await self.w3.eth.gas_price)

    async def balance(self, address: str) -> int:
        async with _chain_errors("eth_getBalance"):
            return int(await self.w3.eth.get_balance(to_checksum_address(address)))

    async def round_length(self) -> int:
        return int(await self._view(self.rounds.functions.roundLength(), "roundLength"))

    async def current_round(self) -> int:
        return int(await self._view(self.rounds.functions.currentRound(), "currentRound"))

    async def current_round_initialized(self) -> bool:
        function = self.rounds.functions.currentRoundInitialized()
        return bool(await self._view(function, "currentRoundInitialized"))

    async def last_initialized_round(self) -> int:
        function = self.rounds.functions.lastInitializedRound()
        return int(await self._view(function, "lastInitializedRound"))

    async def block_hash_for_round(self, round_: int) -> bytes:
        function = self.rounds.functions.blockHashForRound(round_)
        return bytes(await self._view(function, "blockHashForRound"))

    async def sender_info(self, address: str) -> SenderInfo:
        function = self.broker.functions.getSenderInfo(to_checksum_address(address))
        (deposit, withdraw_round), (remaining, claimed) = await self._view(
            function, "getSenderInfo"
        )
        return SenderInfo(
            deposit=deposit,
            withdraw_round=withdraw_round,
            reserve_funds_remaining=remaining,
            reserve_claimed_in_current_round=claimed,
        )

    async def get_ticket_hash(self, ticket: Ticket) -> bytes:
        function = self.broker.functions.getTicketHash(ticket.as_contract_tuple())
        return bytes(await self._view(function, "getTicketHash"))

    async def used_ticket(self, ticket_hash: bytes) -> bool:
        return bool(await self._view(self.broker.functions.usedTickets(ticket_hash), "usedTickets"))

    async def simulate_redeem(
        self, ticket: Ticket, sig: bytes, recipient_rand: int, from_address: str
    ) -> str | None:
        """eth_call of redeemWinningTicket: None if it would succeed, else the revert reason."""
        function = self.broker.functions.redeemWinningTicket(
            ticket.as_contract_tuple(), sig, recipient_rand
        )
        try:
            async with _chain_errors("simulate redeemWinningTicket"):
                await function.call({"from": to_checksum_address(from_address)})
        except ChainError as exc:
            if exc.details.get("reverted"):
                return exc.message
            raise
        return None

    async def find_redemption(self, ticket: Ticket, from_block: int = 0) -> str | None:
        """The hash of the transaction that redeemed `ticket`, if one did (crash reconciliation).

        Matches WinningTicketRedeemed events by sender and recipient (indexed), then by nonce,
        faceValue, winProb, auxData and keccak256(recipientRand) == recipientRandHash.
        """
        event = self.broker.events.WinningTicketRedeemed
        filters = {
            "sender": to_checksum_address(ticket.sender),
            "recipient": to_checksum_address(ticket.recipient),
        }
        async with _chain_errors("eth_getLogs WinningTicketRedeemed"):
            logs = await event.get_logs(argument_filters=filters, from_block=from_block)
        for log in logs:
            args = log["args"]
            if (
                args["senderNonce"] == ticket.sender_nonce
                and args["faceValue"] == ticket.face_value
                and args["winProb"] == ticket.win_prob
                and bytes(args["auxData"]) == ticket.aux_data
                and keccak(u256(args["recipientRand"])) == ticket.recipient_rand_hash
            ):
                return HexBytes(log["transactionHash"]).to_0x_hex()
        return None

    # ---- transactions --------------------------------------------------------------------

    def _nonce_lock(self, address: str) -> asyncio.Lock:
        return self._nonce_locks.setdefault(address, asyncio.Lock())

    async def _transact(
        self, key: bytes, what: str, function: AsyncContractFunction | None, tx: TxParams
    ) -> TxReceipt:
        """Build, sign, send and await one transaction; a revert raises ChainError."""
        sender = Account.from_key(key).address
        async with self._nonce_lock(sender):
            async with _chain_errors(what):
                tx = {**tx, "from": sender}
                tx["nonce"] = await self.w3.eth.get_transaction_count(sender, "pending")
                if function is not None:
                    tx = await function.build_transaction(tx)
                else:
                    tx.update(await self._fee_fields())
                    tx["chainId"] = await self.chain_id()
                signed = Account.sign_transaction(dict(tx), key)
                tx_hash = await self.w3.eth.send_raw_transaction(signed.raw_transaction)
        hex_hash = tx_hash.to_0x_hex()
        try:
            async with _chain_errors(what):
                receipt = await self.w3.eth.wait_for_transaction_receipt(
                    tx_hash, timeout=self.receipt_timeout
                )
        except ChainError as exc:
            exc.details["tx_hash"] = hex_hash
            raise
        if receipt["status"] != 1:
            raise ChainError(
                f"{what} reverted in transaction {hex_hash}", reverted=True, tx_hash=hex_hash
            )
        return receipt

    async def _fee_fields(self) -> TxParams:
        latest = await self.w3.eth.get_block("latest")
        priority = await self.w3.eth.max_priority_fee
        base_fee = latest.get("baseFeePerGas", 0)
        return {"maxPriorityFeePerGas": priority, "maxFeePerGas": Wei(2 * base_fee + priority)}

    async def transfer(self, key: bytes, to: str, wei: int) -> str:
        tx: TxParams = {"to": to_checksum_address(to), "value": Wei(wei), "gas": _TRANSFER_GAS}
        receipt = await self._transact(key, "transfer", None, tx)
        return receipt["transactionHash"].to_0x_hex()

    async def initialize_round(self, key: bytes) -> str:
        function = self.rounds.functions.initializeRound()
        receipt = await self._transact(key, "initializeRound", function, {})
        return receipt["transactionHash"].to_0x_hex()

    async def fund_deposit_and_reserve(self, key: bytes, deposit: int, reserve: int) -> str:
        function = self.broker.functions.fundDepositAndReserve(deposit, reserve)
        receipt = await self._transact(
            key, "fundDepositAndReserve", function, {"value": Wei(deposit + reserve)}
        )
        return receipt["transactionHash"].to_0x_hex()

    async def redeem_winning_ticket(
        self, key: bytes, ticket: Ticket, sig: bytes, recipient_rand: int
    ) -> Redemption:
        function = self.broker.functions.redeemWinningTicket(
            ticket.as_contract_tuple(), sig, recipient_rand
        )
        receipt = await self._transact(key, "redeemWinningTicket", function, {})
        transfers = self.broker.events.WinningTicketTransfer().process_receipt(
            receipt, errors=DISCARD
        )
        return Redemption(
            tx_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            effective_gas_price=receipt["effectiveGasPrice"],
            amount=sum(int(event["args"]["amount"]) for event in transfers),
        )
