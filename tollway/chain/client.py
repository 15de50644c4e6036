"""Async access to the devnet protocol contracts (web3 AsyncHTTPProvider).

TicketBroker and RoundsManager come from the ContractAddresses given; the others (BondingManager,
Minter, LivepeerToken, ServiceRegistry) from their fields when set, else from the Controller the
TicketBroker names, looked up once on first use.

Keys are raw 32-byte private keys; transactions are signed locally and sent raw. Every chain
failure surfaces as `tollway.errors.ChainError` with `reverted=True` when the contract refused
(the message is the revert reason) and `reverted=False` for RPC or transport faults.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, cast

import aiohttp
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract.async_contract import AsyncContract, AsyncContractFunction
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3Exception
from web3.logs import DISCARD
from web3.types import EventData, TxParams, TxReceipt, Wei

from tollway.chain.addresses import CONTRACT_FIELDS, ContractAddresses, contract_id
from tollway.chain.artifacts import load_artifact
from tollway.chain.types import (
    BatchRedemption,
    DelegatorInfo,
    Redemption,
    RewardReceipt,
    SenderInfo,
    TicketOutcome,
    TranscoderInfo,
    UnbondingLock,
)
from tollway.errors import ChainError
from tollway.protocol.ticket import Ticket, u256

_TRANSPORT_ERRORS = (Web3Exception, aiohttp.ClientError, OSError, TimeoutError)
_TRANSFER_GAS = 21_000
_NULL_ADDRESS = "0x" + "00" * 20


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


GAS_MARGIN = 1.25
"""Gas limit over eth_estimateGas: unused gas is refunded, a limit too tight reverts."""


class ChainClient:
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
        self._contracts: dict[str, AsyncContract] = {
            "TicketBroker": self.broker,
            "RoundsManager": self.rounds,
        }

    async def aclose(self) -> None:
        await self.w3.provider.disconnect()

    @asynccontextmanager
    async def _errors(self, what: str) -> AsyncIterator[None]:
        """`_chain_errors`, and on a transport fault the next RPC URL for the next call (the
        caller's retry then reaches a node that answers)."""
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
        async with self._errors(what):
            return await function.call()

    async def contract(self, name: str) -> AsyncContract:
        """The web3 contract `name` (a key of CONTRACT_FIELDS), its address looked up if needed."""
        contract = self._contracts.get(name)
        if contract is None:
            address = getattr(self.contracts, CONTRACT_FIELDS[name]) or await self._lookup(name)
            contract = self.w3.eth.contract(
                address=to_checksum_address(address), abi=load_artifact(name).abi
            )
            self._contracts[name] = contract
        return contract

    async def _lookup(self, name: str) -> str:
        if name == "Controller":
            return str(await self._view(self.broker.functions.controller(), "controller"))
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
            async with self._errors("eth_chainId"):
                self._chain_id = await self.w3.eth.chain_id
        return self._chain_id

    async def block_number(self) -> int:
        async with self._errors("eth_blockNumber"):
            return int(await self.w3.eth.block_number)

    async def gas_price(self) -> int:
        async with self._errors("eth_gasPrice"):
            return int(await self.w3.eth.gas_price)

    async def balance(self, address: str) -> int:
        async with self._errors("eth_getBalance"):
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

    async def current_round_start_block(self) -> int:
        function = self.rounds.functions.currentRoundStartBlock()
        return int(await self._view(function, "currentRoundStartBlock"))

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

    async def claimable_reserve(self, reserve_holder: str, claimant: str) -> int:
        """What `claimant` may still take from `reserve_holder`'s reserve this round."""
        function = self.broker.functions.claimableReserve(
            to_checksum_address(reserve_holder), to_checksum_address(claimant)
        )
        return int(await self._view(function, "claimableReserve"))

    async def claimed_reserve(self, reserve_holder: str, claimant: str) -> int:
        """What `claimant` took from `reserve_holder`'s reserve this round."""
        function = self.broker.functions.claimedReserve(
            to_checksum_address(reserve_holder), to_checksum_address(claimant)
        )
        return int(await self._view(function, "claimedReserve"))

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
            async with self._errors("simulate redeemWinningTicket"):
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
        async with self._errors("eth_getLogs WinningTicketRedeemed"):
            logs = await event.get_logs(argument_filters=filters, from_block=from_block)
        for log in logs:
            if _redeemed_event_matches(log, ticket):
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
            async with self._errors(what):
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
            async with self._errors(what):
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
        hex_hash = receipt["transactionHash"].to_0x_hex()
        if receipt["status"] != 1:
            raise ChainError(
                f"{what} reverted in transaction {hex_hash}", reverted=True, tx_hash=hex_hash
            )
        return receipt

    async def _mined(self, hashes: list[HexBytes]) -> TxReceipt | None:
        """The receipt of whichever of `hashes` (one nonce) is mined, or None on timeout."""
        deadline = time.monotonic() + self.receipt_timeout
        while time.monotonic() < deadline:
            for tx_hash in reversed(hashes):
                try:
                    return await self.w3.eth.get_transaction_receipt(tx_hash)
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

    async def batch_redeem_winning_tickets(
        self, key: bytes, redemptions: Sequence[tuple[Ticket, bytes, int]]
    ) -> BatchRedemption:
        """Redeem `(ticket, sig, recipientRand)` triples in one transaction.

        A ticket the contract refuses is skipped without reverting the others (the revert reason
        is not recorded on-chain). Each outcome says whether the ticket was redeemed, read from
        the WinningTicketRedeemed events, which the contract emits in the batch's order.
        """
        tickets = [ticket.as_contract_tuple() for ticket, _, _ in redemptions]
        sigs = [sig for _, sig, _ in redemptions]
        rands = [rand for _, _, rand in redemptions]
        function = self.broker.functions.batchRedeemWinningTickets(tickets, sigs, rands)
        receipt = await self._transact(key, "batchRedeemWinningTickets", function, {})

        # (WinningTicketRedeemed event, amount of the WinningTicketTransfer that follows it)
        redeemed: list[tuple[EventData, int]] = []
        events = [
            *self.broker.events.WinningTicketRedeemed().process_receipt(receipt, errors=DISCARD),
            *self.broker.events.WinningTicketTransfer().process_receipt(receipt, errors=DISCARD),
        ]
        for event in sorted(events, key=lambda e: e["logIndex"]):
            if event["event"] == "WinningTicketRedeemed":
                redeemed.append((event, 0))
            elif redeemed:
                last, amount = redeemed[-1]
                redeemed[-1] = (last, amount + int(event["args"]["amount"]))

        outcomes = []
        next_event = 0
        for ticket, _, rand in redemptions:
            won = next_event < len(redeemed) and (
                _redeemed_event_matches(redeemed[next_event][0], ticket)
                and redeemed[next_event][0]["args"]["recipientRand"] == rand
            )
            amount = redeemed[next_event][1] if won else 0
            next_event += won
            outcomes.append(
                TicketOutcome(ticket_hash="0x" + ticket.hash().hex(), redeemed=won, amount=amount)
            )
        return BatchRedemption(
            tx_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            effective_gas_price=receipt["effectiveGasPrice"],
            tickets=outcomes,
        )

    async def transact(
        self, key: bytes, contract: str, method: str, *args: Any, value: int = 0
    ) -> TxReceipt:
        """Send `contract.method(*args)` from `key` (any method; the named ones below wrap it)."""
        function = (await self.contract(contract)).functions[method](*args)
        tx: TxParams = {"value": Wei(value)} if value else {}
        return await self._transact(key, method, function, tx)

    async def _send_hash(
        self, key: bytes, contract: str, method: str, *args: Any, value: int = 0
    ) -> str:
        receipt = await self.transact(key, contract, method, *args, value=value)
        return receipt["transactionHash"].to_0x_hex()

    # ---- TicketBroker: funding and leaving -----------------------------------------------

    async def fund_deposit(self, key: bytes, amount: int) -> str:
        return await self._send_hash(key, "TicketBroker", "fundDeposit", value=amount)

    async def fund_reserve(self, key: bytes, amount: int) -> str:
        return await self._send_hash(key, "TicketBroker", "fundReserve", value=amount)

    async def fund_deposit_and_reserve_for(
        self, key: bytes, sender: str, deposit: int, reserve: int
    ) -> str:
        """Fund `sender`'s deposit and reserve from `key`'s ETH."""
        return await self._send_hash(
            key,
            "TicketBroker",
            "fundDepositAndReserveFor",
            to_checksum_address(sender),
            deposit,
            reserve,
            value=deposit + reserve,
        )

    async def unlock(self, key: bytes) -> str:
        """Start the sender's unlock period (unlockPeriod rounds) before withdraw()."""
        return await self._send_hash(key, "TicketBroker", "unlock")

    async def cancel_unlock(self, key: bytes) -> str:
        return await self._send_hash(key, "TicketBroker", "cancelUnlock")

    async def withdraw(self, key: bytes) -> str:
        """Withdraw the sender's deposit and remaining reserve once its unlock period is over."""
        return await self._send_hash(key, "TicketBroker", "withdraw")

    # ---- BondingManager ------------------------------------------------------------------

    async def _bonding_view(self, method: str, *args: Any) -> Any:
        function = (await self.contract("BondingManager")).functions[method](*args)
        return await self._view(function, method)

    async def is_active_transcoder(self, address: str) -> bool:
        """Whether `address` is in the current round's active set."""
        return bool(await self._bonding_view("isActiveTranscoder", to_checksum_address(address)))

    async def is_registered_transcoder(self, address: str) -> bool:
        function = "isRegisteredTranscoder"
        return bool(await self._bonding_view(function, to_checksum_address(address)))

    async def transcoder_pool_size(self) -> int:
        return int(await self._bonding_view("getTranscoderPoolSize"))

    async def transcoder_pool(self) -> list[str]:
        """The addresses in the transcoder pool (getFirst/getNextTranscoderInPool order)."""
        members: list[str] = []
        address = str(await self._bonding_view("getFirstTranscoderInPool"))
        while int(address, 16) != 0:
            members.append(address)
            address = str(await self._bonding_view("getNextTranscoderInPool", address))
        return members

    async def transcoder(self, address: str) -> TranscoderInfo:
        checksum = to_checksum_address(address)
        fields, total_stake, registered, active = await asyncio.gather(
            self._bonding_view("getTranscoder", checksum),
            self._bonding_view("transcoderTotalStake", checksum),
            self._bonding_view("isRegisteredTranscoder", checksum),
            self._bonding_view("isActiveTranscoder", checksum),
        )
        names = (
            "last_reward_round",
            "reward_cut",
            "fee_share",
            "last_active_stake_update_round",
            "activation_round",
            "deactivation_round",
            "active_stake",
            "cumulative_rewards",
            "cumulative_fees",
            "last_fee_round",
        )
        return TranscoderInfo(
            address=checksum,
            **dict(zip(names, fields, strict=True)),
            total_stake=total_stake,
            registered=registered,
            active=active,
        )

    async def last_reward_round(self, address: str) -> int:
        fields = await self._bonding_view("getTranscoder", to_checksum_address(address))
        return int(fields[0])

    async def delegator(self, address: str) -> DelegatorInfo:
        bonded, fees, delegate, delegated, start, last_claim, next_lock = await self._bonding_view(
            "getDelegator", to_checksum_address(address)
        )
        return DelegatorInfo(
            bonded_amount=bonded,
            fees=fees,
            delegate_address=delegate,
            delegated_amount=delegated,
            start_round=start,
            last_claim_round=last_claim,
            next_unbonding_lock_id=next_lock,
        )

    async def unbonding_lock(self, address: str, lock_id: int) -> UnbondingLock:
        amount, withdraw_round = await self._bonding_view(
            "getDelegatorUnbondingLock", to_checksum_address(address), lock_id
        )
        return UnbondingLock(id=lock_id, amount=amount, withdraw_round=withdraw_round)

    async def pending_stake(self, address: str, end_round: int | None = None) -> int:
        """Bonded LPT with unclaimed rewards (end_round defaults to the current round)."""
        end = await self.current_round() if end_round is None else end_round
        return int(await self._bonding_view("pendingStake", to_checksum_address(address), end))

    async def pending_fees(self, address: str, end_round: int | None = None) -> int:
        """Withdrawable fees in wei, unclaimed ones included."""
        end = await self.current_round() if end_round is None else end_round
        return int(await self._bonding_view("pendingFees", to_checksum_address(address), end))

    async def set_transcoder(self, key: bytes, reward_cut: int, fee_share: int) -> str:
        """BondingManager.transcoder(rewardCut, feeShare), both in parts per million."""
        return await self._send_hash(key, "BondingManager", "transcoder", reward_cut, fee_share)

    async def bond(self, key: bytes, amount: int, to: str) -> str:
        """Bond `amount` LPT (approved to the BondingManager first) to `to`."""
        return await self._send_hash(key, "BondingManager", "bond", amount, to_checksum_address(to))

    async def unbond(self, key: bytes, amount: int) -> UnbondingLock:
        receipt = await self.transact(key, "BondingManager", "unbond", amount)
        bonding = await self.contract("BondingManager")
        (event,) = bonding.events.Unbond().process_receipt(receipt, errors=DISCARD)
        args = event["args"]
        return UnbondingLock(
            id=args["unbondingLockId"], amount=args["amount"], withdraw_round=args["withdrawRound"]
        )

    async def withdraw_stake(self, key: bytes, unbonding_lock_id: int) -> str:
        return await self._send_hash(key, "BondingManager", "withdrawStake", unbonding_lock_id)

    async def claim_earnings(self, key: bytes, end_round: int | None = None) -> str:
        end = await self.current_round() if end_round is None else end_round
        return await self._send_hash(key, "BondingManager", "claimEarnings", end)

    async def withdraw_fees(self, key: bytes, recipient: str, amount: int) -> str:
        """Pay `amount` wei of the caller's fees to `recipient`."""
        return await self._send_hash(
            key, "BondingManager", "withdrawFees", to_checksum_address(recipient), amount
        )

    async def reward(self, key: bytes) -> RewardReceipt:
        """Mint this round's reward for the caller, an active transcoder (once per round)."""
        receipt = await self.transact(key, "BondingManager", "reward")
        bonding = await self.contract("BondingManager")
        (event,) = bonding.events.Reward().process_receipt(receipt, errors=DISCARD)
        return RewardReceipt(
            tx_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=receipt["blockNumber"],
            amount=event["args"]["amount"],
        )

    # ---- LivepeerToken and ServiceRegistry -----------------------------------------------

    async def token_balance(self, address: str) -> int:
        function = (await self.contract("LivepeerToken")).functions.balanceOf(
            to_checksum_address(address)
        )
        return int(await self._view(function, "balanceOf"))

    async def transfer_token(self, key: bytes, to: str, amount: int) -> str:
        return await self._send_hash(
            key, "LivepeerToken", "transfer", to_checksum_address(to), amount
        )

    async def approve_token(self, key: bytes, spender: str, amount: int) -> str:
        return await self._send_hash(
            key, "LivepeerToken", "approve", to_checksum_address(spender), amount
        )

    async def set_service_uri(self, key: bytes, uri: str) -> str:
        return await self._send_hash(key, "ServiceRegistry", "setServiceURI", uri)

    async def get_service_uri(self, address: str) -> str:
        function = (await self.contract("ServiceRegistry")).functions.getServiceURI(
            to_checksum_address(address)
        )
        return str(await self._view(function, "getServiceURI"))


def _redeemed_event_matches(event: EventData, ticket: Ticket) -> bool:
    """Whether a WinningTicketRedeemed event is for `ticket` (recipientRand against its hash)."""
    args = event["args"]
    return bool(
        to_checksum_address(args["sender"]) == to_checksum_address(ticket.sender)
        and to_checksum_address(args["recipient"]) == to_checksum_address(ticket.recipient)
        and args["senderNonce"] == ticket.sender_nonce
        and args["faceValue"] == ticket.face_value
        and args["winProb"] == ticket.win_prob
        and bytes(args["auxData"]) == ticket.aux_data
        and keccak(u256(args["recipientRand"])) == ticket.recipient_rand_hash
    )
