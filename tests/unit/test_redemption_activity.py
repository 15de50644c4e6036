"""redeem_batch's decisions with an in-memory stand-in chain: wait, reconcile, refuse, batch."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from eth_account import Account
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from tollway.activities.redemption import RedemptionActivities
from tollway.chain.types import BatchRedemption, Redemption, SenderInfo, TicketOutcome
from tollway.errors import ChainError
from tollway.payments.winners import RedemptionBatch, WinningTicket
from tollway.protocol.signing import sign_digest
from tollway.protocol.ticket import MAX_UINT256, Ticket, recipient_rand_hash

SENDER = Account.create()
RECIPIENT = str(Account.create().address)
FACE_VALUE = 10**15


def winner(nonce: int, expiration_block: int = 100, creation_round: int = 5) -> WinningTicket:
    ticket = Ticket(
        recipient=RECIPIENT,
        sender=SENDER.address,
        face_value=FACE_VALUE,
        win_prob=MAX_UINT256,
        sender_nonce=nonce,
        recipient_rand_hash=recipient_rand_hash(7),
        creation_round=creation_round,
        creation_round_block_hash=b"\x05" * 32,
    )
    sig = sign_digest(bytes(SENDER.key), ticket.hash())
    return WinningTicket.of(ticket, sig, 7, expiration_block)


class InMemoryRedemptionChain:
    """The node and the contract views in one object (`rounds`, `broker` and `bonding` are it)."""

    def __init__(self) -> None:
        self.rounds = self.broker = self.bonding = self
        self.block = 200
        self.round = 5
        self.active = True
        self.used: set[bytes] = set()
        self.refused: dict[int, str] = {}  # nonce -> revert reason
        self.single: list[int] = []
        self.batches: list[list[int]] = []
        self.funds = SenderInfo(
            deposit=10**18,
            withdraw_round=0,
            reserve_funds_remaining=10**18,
            reserve_claimed_in_current_round=0,
        )
        self.rpc_down = False

    async def block_number(self) -> int:
        if self.rpc_down:
            raise ChainError("eth_blockNumber: connection refused", reverted=False)
        return self.block

    async def current_round(self) -> int:
        return self.round

    async def gas_price(self) -> int:
        return 10**9

    async def used_ticket(self, ticket_hash: bytes) -> bool:
        return ticket_hash in self.used

    async def is_active_transcoder(self, address: str) -> bool:
        return self.active

    async def sender_info(self, address: str) -> SenderInfo:
        return self.funds

    async def claimable_reserve(self, reserve_holder: str, claimant: str) -> int:
        return self.funds.reserve_funds_remaining

    async def find_redemption(self, ticket: Ticket, from_block: int = 0) -> str | None:
        return f"0xold{ticket.sender_nonce}"

    async def redeem_winning_ticket(
        self, key: bytes, ticket: Ticket, sig: bytes, recipient_rand: int
    ) -> Redemption:
        self.single.append(ticket.sender_nonce)
        if ticket.sender_nonce in self.refused:
            raise ChainError(self.refused[ticket.sender_nonce], reverted=True)
        self.used.add(ticket.hash())
        return Redemption(
            tx_hash=f"0xone{ticket.sender_nonce}",
            block_number=self.block,
            gas_used=1,
            effective_gas_price=1,
            amount=ticket.face_value,
        )

    async def batch_redeem_winning_tickets(
        self, key: bytes, redemptions: Sequence[tuple[Ticket, bytes, int]]
    ) -> BatchRedemption:
        self.batches.append([t.sender_nonce for t, _, _ in redemptions])
        outcomes = []
        for ticket, _, _ in redemptions:
            ok = ticket.sender_nonce not in self.refused
            if ok:
                self.used.add(ticket.hash())
            outcomes.append(
                TicketOutcome(
                    ticket_hash="0x" + ticket.hash().hex(),
                    redeemed=ok,
                    amount=ticket.face_value if ok else 0,
                )
            )
        return BatchRedemption(
            tx_hash="0xbatch", block_number=self.block, gas_used=1, effective_gas_price=1,
            tickets=outcomes,
        )  # fmt: skip


async def redeem(chain: InMemoryRedemptionChain, *tickets: WinningTicket) -> list[tuple[str, str]]:
    activities = RedemptionActivities(chain, b"\x01" * 32)
    results = await ActivityEnvironment().run(
        activities.redeem_batch, RedemptionBatch(tickets=list(tickets))
    )
    return [(r.state, r.tx_hash or r.reason or "") for r in results]


async def test_a_batch_of_ready_tickets_is_one_transaction() -> None:
    chain = InMemoryRedemptionChain()
    assert await redeem(chain, winner(1), winner(2), winner(3)) == [("redeemed", "0xbatch")] * 3
    assert chain.batches == [[1, 2, 3]] and chain.single == []


async def test_a_ticket_failing_in_a_batch_is_retried_alone_for_its_reason() -> None:
    chain = InMemoryRedemptionChain()
    chain.refused[2] = "ticket did not win"
    results = await redeem(chain, winner(1), winner(2))
    assert results[0] == ("redeemed", "0xbatch")
    assert results[1] == ("failed", "redemption refused: ticket did not win")
    assert chain.single == [2]


async def test_used_expired_waiting_and_ready_tickets_are_told_apart() -> None:
    chain = InMemoryRedemptionChain()
    used, expired = winner(1), winner(2, creation_round=3)
    chain.used.add(used.ticket().hash())
    waiting, ready = winner(3, expiration_block=chain.block), winner(4)
    results = await redeem(chain, used, expired, waiting, ready)
    assert results == [
        ("redeemed", "0xold1"),  # reconciled with the transaction that used it
        ("failed", "ticket expired on-chain (created in round 3)"),
        ("waiting", ""),
        ("redeemed", "0xone4"),
    ]
    assert chain.single == [4] and chain.batches == []


async def test_nothing_ready_waits_by_retrying() -> None:
    chain = InMemoryRedemptionChain()
    with pytest.raises(ApplicationError) as waiting:
        await redeem(chain, winner(1, expiration_block=chain.block + 5))
    assert waiting.value.type == "ParamsNotExpired" and not waiting.value.non_retryable


async def test_no_gas_spent_for_senders_whose_funds_do_not_cover_it() -> None:
    chain = InMemoryRedemptionChain()
    chain.funds = chain.funds.model_copy(update={"deposit": 0, "reserve_funds_remaining": 10})
    with pytest.raises(ApplicationError, match="sender funds below"):
        await redeem(chain, winner(1))
    assert chain.single == [] and chain.batches == []


async def test_an_inactive_recipient_and_a_dead_rpc_are_retried() -> None:
    chain = InMemoryRedemptionChain()
    chain.active = False
    with pytest.raises(ApplicationError) as inactive:
        await redeem(chain, winner(1))
    assert inactive.value.type == "RecipientNotActive" and not inactive.value.non_retryable
    chain.active, chain.rpc_down = True, True
    with pytest.raises(ApplicationError) as fault:
        await redeem(chain, winner(1))
    assert fault.value.type == "ChainFault" and not fault.value.non_retryable
    assert chain.single == []
