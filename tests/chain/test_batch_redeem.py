"""batchRedeemWinningTickets: each ticket redeems on its own, bad ones are skipped."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils.address import to_checksum_address
from web3.types import TxParams

from tollway.chain.client import ChainClient
from tollway.devnet.chain_setup import mine_to_round
from tollway.protocol.ticket import Ticket

from .conftest import SENDER_DEPOSIT
from .helpers import ETHER, Party, call_reason, make_ticket, sign

pytestmark = pytest.mark.chain


async def test_batch_pays_good_tickets_and_skips_bad_ones(
    isolated: ChainClient, sender: Party, recipient: Party, stranger: Party
) -> None:
    chain = isolated
    good = [
        await make_ticket(
            chain, sender.address, recipient.address, face_value=(i + 1) * ETHER // 100
        )
        for i in range(3)
    ]
    forged = await make_ticket(chain, sender.address, recipient.address)
    loser = await make_ticket(chain, sender.address, recipient.address, win_prob=0)
    wrong_rand = await make_ticket(chain, sender.address, recipient.address, recipient_rand=5)
    batch = [
        (good[0], sign(sender, good[0]), 42),
        (forged, sign(stranger, forged), 42),
        (good[1], sign(sender, good[1]), 42),
        (loser, sign(sender, loser), 42),
        (good[0], sign(sender, good[0]), 42),  # used by the first entry
        (wrong_rand, sign(sender, wrong_rand), 6),
        (good[2], sign(sender, good[2]), 42),
    ]
    fees_before = await chain.bonding.pending_fees(recipient.address)

    result = await chain.broker.batch_redeem_winning_tickets(recipient.key, batch)

    paid = [ticket.face_value for ticket in good]
    assert [(t.redeemed, t.amount) for t in result.tickets] == [
        (True, paid[0]),
        (False, 0),
        (True, paid[1]),
        (False, 0),
        (False, 0),
        (False, 0),
        (True, paid[2]),
    ]
    assert [t.ticket_hash for t in result.tickets] == ["0x" + t.hash().hex() for t, _, _ in batch]
    assert await chain.bonding.pending_fees(recipient.address) - fees_before == sum(paid)
    assert (await chain.broker.sender_info(sender.address)).deposit == SENDER_DEPOSIT - sum(paid)
    for ticket in good:
        assert await chain.broker.used_ticket(ticket.hash())
        assert await chain.broker.find_redemption(ticket) == result.tx_hash
    for ticket in (forged, loser, wrong_rand):
        assert not await chain.broker.used_ticket(ticket.hash())


async def test_batch_needs_an_initialized_round_and_matching_arrays(
    isolated: ChainClient, sender: Party, recipient: Party
) -> None:
    chain = isolated
    ticket = await make_ticket(chain, sender.address, recipient.address)
    args = ([ticket.as_contract_tuple()], [sign(sender, ticket)], [42, 43])
    assert await call_reason(
        chain, "TicketBroker", "batchRedeemWinningTickets", *args, sender=recipient.address
    ) == ("array lengths differ")

    await mine_to_round(chain, await chain.rounds.current_round() + 1)
    assert await call_reason(
        chain,
        "TicketBroker",
        "batchRedeemWinningTickets",
        *args[:2],
        [42],
        sender=recipient.address,
    ) == ("current round is not initialized")


async def _send_with_gas(
    chain: ChainClient, party: Party, batch: list[tuple[Ticket, bytes, int]], gas: int
) -> int:
    function = (await chain.broker.contract()).functions.batchRedeemWinningTickets(
        [t.as_contract_tuple() for t, _, _ in batch],
        [s for _, s, _ in batch],
        [r for *_, r in batch],
    )
    fields: TxParams = {
        "from": party.address,
        "gas": gas,
        "nonce": await chain.w3.eth.get_transaction_count(
            to_checksum_address(party.address), "pending"
        ),
    }
    tx = await function.build_transaction(fields)
    signed = Account.sign_transaction(dict(tx), party.key)
    tx_hash = await chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    return int((await chain.w3.eth.wait_for_transaction_receipt(tx_hash))["status"])


async def test_a_starved_batch_reverts_rather_than_dropping_good_tickets(
    isolated: ChainClient, sender: Party, recipient: Party
) -> None:
    """Without the contract's gas check, eth_estimateGas would pick a limit at which the
    self-calls fail quietly; with it, a short limit reverts the whole batch."""
    chain = isolated
    tickets = [await make_ticket(chain, sender.address, recipient.address) for _ in range(4)]
    batch = [(t, sign(sender, t), 42) for t in tickets]
    function = (await chain.broker.contract()).functions.batchRedeemWinningTickets(
        [t.as_contract_tuple() for t in tickets], [s for _, s, _ in batch], [42] * 4
    )
    estimate = await function.estimate_gas({"from": recipient.address})
    for fraction in (0.3, 0.6, 0.9, 0.98):
        assert await _send_with_gas(chain, recipient, batch, int(estimate * fraction)) == 0
        assert not any([await chain.broker.used_ticket(t.hash()) for t in tickets])

    result = await chain.broker.batch_redeem_winning_tickets(recipient.key, batch)
    assert all(t.redeemed for t in result.tickets)


async def test_batching_costs_less_gas_per_ticket(
    isolated: ChainClient, sender: Party, recipient: Party
) -> None:
    chain = isolated
    warm = await make_ticket(chain, sender.address, recipient.address)
    await chain.broker.redeem_winning_ticket(recipient.key, warm, sign(sender, warm), 42)
    single = await make_ticket(chain, sender.address, recipient.address)
    one = await chain.broker.redeem_winning_ticket(recipient.key, single, sign(sender, single), 42)

    tickets = [await make_ticket(chain, sender.address, recipient.address) for _ in range(10)]
    batch = await chain.broker.batch_redeem_winning_tickets(
        recipient.key, [(t, sign(sender, t), 42) for t in tickets]
    )
    assert all(t.redeemed for t in batch.tickets)
    # Gas is deterministic; the goal is at most half a warm single redemption.
    assert batch.gas_used / 10 <= one.gas_used / 2


async def test_a_ticket_for_an_unregistered_recipient_is_skipped_not_fatal(
    isolated: ChainClient, sender: Party, recipient: Party, stranger: Party
) -> None:
    """Fees are credited once per recipient after the loop; a recipient the BondingManager
    does not know must not take the whole batch down with it."""
    chain = isolated
    mine = [await make_ticket(chain, sender.address, recipient.address) for _ in range(2)]
    theirs = await make_ticket(chain, sender.address, stranger.address)
    batch = [(mine[0], sign(sender, mine[0]), 42), (theirs, sign(sender, theirs), 42)]
    batch.append((mine[1], sign(sender, mine[1]), 42))
    fees_before = await chain.bonding.pending_fees(recipient.address)

    result = await chain.broker.batch_redeem_winning_tickets(recipient.key, batch)

    assert [t.redeemed for t in result.tickets] == [True, False, True]
    assert not await chain.broker.used_ticket(theirs.hash())
    assert (
        await chain.bonding.pending_fees(recipient.address) - fees_before == 2 * mine[0].face_value
    )


async def test_tickets_from_two_creation_rounds_are_all_credited(
    isolated: ChainClient, sender: Party, recipient: Party
) -> None:
    chain = isolated
    older = await make_ticket(chain, sender.address, recipient.address, face_value=3 * ETHER // 100)
    await mine_to_round(chain, await chain.rounds.current_round() + 1)
    await chain.rounds.initialize_round(recipient.key)
    newer = await make_ticket(chain, sender.address, recipient.address, face_value=ETHER // 100)
    assert newer.creation_round == older.creation_round + 1
    fees_before = await chain.bonding.pending_fees(recipient.address)

    result = await chain.broker.batch_redeem_winning_tickets(
        recipient.key, [(older, sign(sender, older), 42), (newer, sign(sender, newer), 42)]
    )

    assert [t.redeemed for t in result.tickets] == [True, True]
    expected = older.face_value + newer.face_value
    assert await chain.bonding.pending_fees(recipient.address) - fees_before == expected


async def test_the_per_ticket_entry_point_refuses_outside_callers(
    isolated: ChainClient, sender: Party, recipient: Party
) -> None:
    chain = isolated
    ticket = await make_ticket(chain, sender.address, recipient.address)
    bonding = (await chain.contract("BondingManager")).address
    reason = await call_reason(
        chain,
        "TicketBroker",
        "redeemWinningTicketInBatch",
        ticket.as_contract_tuple(),
        sign(sender, ticket),
        42,
        await chain.rounds.current_round(),
        bonding,
        sender=recipient.address,
    )
    assert reason == "caller must be TicketBroker"
