"""The orchestrator's side of payments: issue ticket params, validate and credit payments.

Unlike go-livepeer, a payment is all-or-nothing: one bad ticket refuses the
whole batch with a named reason and credits nothing, and the HMAC secret lives in the ledger so
params issued before a restart still validate after it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from tollway import metrics
from tollway.chain.types import SenderInfo
from tollway.errors import BadPayment, BadSignature, InsufficientSenderReserve, RoundNotReady
from tollway.payments.ledger import JobPayment, Ledger, NonceUse
from tollway.payments.memo import Memo
from tollway.payments.winners import WinningTicket
from tollway.protocol.payment import Payment, TicketParams
from tollway.protocol.price import Price
from tollway.protocol.signing import recover_digest
from tollway.protocol.ticket import (
    MAX_UINT256,
    ZERO_HASH,
    derive_recipient_rand,
    is_winning,
    recipient_rand_hash,
    win_prob_for,
)

__all__ = [
    "MAX_NONCES_PER_PARAMS",
    "ChainView",
    "PendingRedemptions",
    "Receipt",
    "RecipientBroker",
    "RecipientRounds",
    "TicketPolicy",
    "TicketRecipient",
    "face_value_for",
    "max_float_for",
]

MAX_NONCES_PER_PARAMS = 600


SENDER_INFO_TTL_SECONDS = 5.0


class RecipientRounds(Protocol):
    async def last_initialized_round(self) -> int: ...
    async def block_hash_for_round(self, round_number: int) -> bytes: ...


class RecipientBroker(Protocol):
    async def sender_info(self, address: str) -> SenderInfo: ...
    async def claimable_reserve(self, reserve_holder: str, claimant: str) -> int: ...


class ChainView(Protocol):
    """What the recipient reads from the chain: the L1 head, rounds and a sender's funds."""

    async def block_number(self) -> int: ...
    async def gas_price(self) -> int: ...
    @property
    def rounds(self) -> RecipientRounds: ...
    @property
    def broker(self) -> RecipientBroker: ...


@dataclass(frozen=True)
class TicketPolicy:
    """How an orchestrator prices its lottery (go-livepeer's defaults)."""

    ev_wei: int
    face_value_wei: int | None = None
    """A fixed face value (the devnet's); None derives it from the gas price."""
    redeem_gas: int = 1_200_000
    tx_cost_multiplier: int = 100
    ev_multiplier: int = 100
    max_face_value_wei: int | None = None
    params_expiration_blocks: int = 40


GAS_PRICE_TTL_SECONDS = 2.0
CHAIN_READ_TTL_SECONDS = 0.5
"""Block number and round reads are shared for this long: a block comes a second at the
fastest (the devnet), so a job token never names a head more than a block old."""
GAS_PRICE_FLOOR_WEI = 3_000_000_000
"""go-livepeer's hard-coded average gas price (3 gwei) used as a floor for face values."""


def face_value_for(policy: TicketPolicy, gas_price: int, max_float: int) -> int:
    """go-livepeer's faceValue(): enough that redeeming a winner costs ~1% of it, capped by
    what the sender's funds can back; InsufficientSenderReserve when that is too little."""
    tx_cost = policy.redeem_gas * gas_price
    if policy.face_value_wei is not None:
        face_value = policy.face_value_wei
    else:
        face_value = tx_cost * policy.tx_cost_multiplier
        if face_value < policy.ev_wei:
            face_value = policy.ev_wei * policy.ev_multiplier
    face_value = min(face_value, max_float)
    if policy.max_face_value_wei is not None:
        face_value = min(face_value, policy.max_face_value_wei)
    floor = policy.redeem_gas * GAS_PRICE_FLOOR_WEI
    too_small_for_gas = (
        policy.face_value_wei is None and face_value < tx_cost and face_value < floor
    )
    if face_value < policy.ev_wei or too_small_for_gas:
        raise InsufficientSenderReserve(
            f"insufficient sender reserve: it backs a face value of at most {face_value} wei"
        )
    return face_value


@dataclass(frozen=True)
class Receipt:
    tickets: int
    credited_wei: int
    winners: list[WinningTicket]


PendingRedemptions = Callable[[str], Awaitable[int]]
"""Face value of a sender's winning tickets not yet redeemed (go-livepeer's pendingAmount)."""

MIN_DEPOSIT_PENDING_RATIO = 3


def max_float_for(reserve_alloc: int, deposit: int, pending: int) -> int:
    """go-livepeer's max float: the reserve allocation, less what is pending unless the deposit
    covers the pending redemptions three times over."""
    if pending == 0 or deposit >= MIN_DEPOSIT_PENDING_RATIO * pending:
        return reserve_alloc
    return max(0, reserve_alloc - pending)


async def _nothing_pending(sender: str) -> int:
    return 0


class TicketRecipient:
    def __init__(
        self,
        address: str,
        ledger: Ledger,
        chain: ChainView,
        policy: TicketPolicy,
        pending: PendingRedemptions = _nothing_pending,
        chain_read_ttl_seconds: float = CHAIN_READ_TTL_SECONDS,
    ) -> None:
        self.address = address
        self._pending = pending
        self.ledger = ledger
        self.chain = chain
        self.policy = policy
        self._secret = ledger.secret("recipient_rand_secret", secrets.token_bytes(32))
        self._senders: dict[str, tuple[float, SenderInfo, int]] = {}
        self._gas_price_cache: tuple[float, int] | None = None
        self._heads: Memo[str, int] = Memo(chain_read_ttl_seconds)
        self._rounds: Memo[str, int] = Memo(chain_read_ttl_seconds)
        self._round_hashes: Memo[int, bytes] = Memo(chain_read_ttl_seconds)

    async def _head(self) -> int:
        return await self._heads.get("head", self.chain.block_number)

    async def _round(self) -> int:
        return await self._rounds.get("round", self.chain.rounds.last_initialized_round)

    async def _round_hash(self, round_number: int) -> bytes:
        return await self._round_hashes.get(
            round_number, lambda: self.chain.rounds.block_hash_for_round(round_number)
        )

    async def _funds(self, sender: str) -> tuple[SenderInfo, int]:
        """The sender's TicketBroker funds and its max float with us (cached briefly); refuses
        unfunded or unlocking senders.

        Max float is go-livepeer's: what this orchestrator could claim from the sender's reserve
        this round, less its redemptions still pending when the deposit is thin (2.9).
        """
        cached = self._senders.get(sender)
        if cached is None or cached[0] < time.monotonic():
            info = await self.chain.broker.sender_info(sender)
            reserve_alloc = await self.chain.broker.claimable_reserve(sender, self.address)
            floating = max_float_for(reserve_alloc, info.deposit, await self._pending(sender))
            cached = (time.monotonic() + SENDER_INFO_TTL_SECONDS, info, floating)
            self._senders[sender] = cached
        _, info, max_float = cached
        metrics.SENDER_FUNDS.labels(sender).set(info.deposit + info.reserve_funds_remaining)
        metrics.MAX_FLOAT.labels(sender).set(max_float)
        if info.deposit == 0 and info.reserve_funds_remaining == 0:
            raise InsufficientSenderReserve(
                f"sender {sender} has no TicketBroker deposit or reserve", sender=sender
            )
        current = await self._round()
        if info.withdraw_round != 0 and info.withdraw_round <= current + 1:
            raise InsufficientSenderReserve(
                f"sender {sender} is unlocking its funds", sender=sender
            )
        return info, max_float

    def _rand(self, params: TicketParams, sender: str, price: Price) -> int:
        return derive_recipient_rand(
            self._secret,
            seed=params.seed,
            sender=sender,
            face_value=params.face_value,
            win_prob=params.win_prob,
            expiration_block=params.expiration_block,
            price_per_unit=price.price_per_unit,
            pixels_per_unit=price.pixels_per_unit,
            aux=params.aux_data,
        )

    async def _gas_price(self) -> int:
        """The chain's gas price, read at most once a GAS_PRICE_TTL_SECONDS: a job token needs
        it twice (price surcharge and face value)."""
        now = time.monotonic()
        if self._gas_price_cache is None or self._gas_price_cache[0] < now:
            self._gas_price_cache = (now + GAS_PRICE_TTL_SECONDS, await self.chain.gas_price())
        return self._gas_price_cache[1]

    async def redemption_overhead(self, sender: str) -> Fraction:
        """Redemption gas as a share of a winning ticket's face value (go-livepeer's
        1 / txCostMultiplier); 0 when face values are fixed rather than set by the gas price."""
        if self.policy.face_value_wei is not None:
            return Fraction(0)
        _, max_float = await self._funds(sender)
        gas_price = await self._gas_price()
        face_value = face_value_for(self.policy, gas_price, max_float)
        return Fraction(self.policy.redeem_gas * gas_price, face_value)

    async def ticket_params(self, sender: str, price: Price) -> TicketParams:
        round_number = await self._round()
        block_hash = await self._round_hash(round_number)
        if round_number > 0 and block_hash == ZERO_HASH:
            round_number -= 1
            block_hash = await self._round_hash(round_number)
        if block_hash == ZERO_HASH:
            # Empty auxData: Livepeer's TicketBroker refuses such tickets, so none are given out.
            raise RoundNotReady(
                f"round {round_number} has no block hash recorded yet: no ticket params until "
                "a round is initialized"
            )
        face_value = 0
        if price.price_per_unit > 0:
            _, max_float = await self._funds(sender)
            face_value = face_value_for(self.policy, await self._gas_price(), max_float)
        params = TicketParams(
            recipient=self.address,
            face_value=face_value,
            win_prob=win_prob_for(self.policy.ev_wei, face_value),
            recipient_rand_hash=b"\x00" * 32,
            seed=secrets.token_bytes(32),
            expiration_block=await self._head() + self.policy.params_expiration_blocks,
            creation_round=round_number,
            creation_round_block_hash=block_hash,
        )
        rand = self._rand(params, sender, price)
        return params.model_copy(update={"recipient_rand_hash": recipient_rand_hash(rand)})

    async def receive(
        self, payment: Payment, sender: str, capability: str, job: JobPayment | None = None
    ) -> Receipt:
        """Validate every ticket, then credit their EV, record winners and remember the payment
        as `job`'s in one transaction."""
        params = payment.params
        if payment.sender != sender:
            raise BadPayment("payment sender differs from the job's signed sender", field="sender")
        if params.recipient != self.address:
            raise BadPayment("tickets are not payable to this orchestrator", field="recipient")
        rand = self._rand(params, sender, payment.expected_price)
        if recipient_rand_hash(rand) != params.recipient_rand_hash:
            raise BadPayment(
                "recipientRand does not match: these params were not issued by this orchestrator",
                field="recipient_rand_hash",
            )
        head = await self._head()
        if params.expiration_block <= head:
            raise BadPayment("ticket params expired: fetch a new token", field="expiration_block")
        if not payment.tickets:
            raise BadPayment("payment carries no tickets", field="ticket_sender_params")
        try:
            _, max_float = await self._funds(sender)
        except InsufficientSenderReserve as exc:
            raise BadPayment(exc.message, field="sender") from exc
        if params.face_value > max_float:
            raise BadPayment(
                f"face value {params.face_value} is above the sender's max float {max_float}",
                field="face_value",
            )
        winners: list[WinningTicket] = []
        for signed in payment.tickets:
            ticket = params.ticket(sender, signed.sender_nonce)
            try:
                signer = recover_digest(ticket.hash(), signed.sig)
            except BadSignature as exc:
                raise BadPayment(
                    f"ticket nonce {signed.sender_nonce}: {exc.message}", field="sig"
                ) from exc
            if signer != sender:
                raise BadPayment(
                    f"ticket nonce {signed.sender_nonce} is not signed by the sender", field="sig"
                )
            if is_winning(signed.sig, rand, params.win_prob):
                winners.append(WinningTicket.of(ticket, signed.sig, rand, params.expiration_block))
        units = params.face_value * params.win_prob * len(payment.tickets)
        self.ledger.credit_payment(
            sender,
            capability,
            units,
            NonceUse(
                params.recipient_rand_hash,
                params.expiration_block,
                [t.sender_nonce for t in payment.tickets],
                MAX_NONCES_PER_PARAMS,
            ),
            [(w.ticket_hash, json.dumps(w.model_dump())) for w in winners],
            expired_below=head,
            job=job,
        )
        credited = units // MAX_UINT256
        return Receipt(tickets=len(payment.tickets), credited_wei=credited, winners=winners)
