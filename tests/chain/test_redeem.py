"""Redeeming tollway-signed tickets on the devnet TicketBroker (real anvil, real contracts)."""

from __future__ import annotations

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tollway.chain.client import ChainClient
from tollway.errors import ChainError
from tollway.protocol.signing import SECP256K1_HALF_N
from tollway.protocol.ticket import MAX_UINT256, Ticket, is_winning

from .conftest import SENDER_DEPOSIT
from .helpers import (
    ETHER,
    Party,
    ensure_round_initialized,
    make_ticket,
    mine_to_round,
    set_balance,
    sign,
)

pytestmark = pytest.mark.chain

SECP256K1_N = 2 * SECP256K1_HALF_N + 1


async def test_winning_ticket_redeems_once(
    isolated: ChainClient, sender: Party, recipient: Party
) -> None:
    chain = isolated
    ticket = await make_ticket(chain, sender.address, recipient.address, recipient_rand=7)
    sig = sign(sender, ticket)
    assert is_winning(sig, 7, ticket.win_prob)
    assert await chain.broker.simulate_redeem(ticket, sig, 7, recipient.address) is None
    balance_before = await chain.balance(recipient.address)
    fees_before = await chain.bonding.pending_fees(recipient.address)

    redemption = await chain.broker.redeem_winning_ticket(recipient.key, ticket, sig, 7)

    assert redemption.amount == ticket.face_value
    assert await chain.broker.used_ticket(ticket.hash())
    # The face value is credited as fees in the BondingManager; the recipient only paid gas.
    assert await chain.bonding.pending_fees(recipient.address) - fees_before == ticket.face_value
    gas_cost = redemption.gas_used * redemption.effective_gas_price
    assert await chain.balance(recipient.address) == balance_before - gas_cost
    info = await chain.broker.sender_info(sender.address)
    assert info.deposit == SENDER_DEPOSIT - ticket.face_value
    assert await chain.broker.find_redemption(ticket) == redemption.tx_hash
    assert redemption.block_number == await chain.block_number()

    assert await chain.broker.simulate_redeem(ticket, sig, 7, recipient.address) == "ticket is used"
    with pytest.raises(ChainError) as caught:
        await chain.broker.redeem_winning_ticket(recipient.key, ticket, sig, 7)
    assert caught.value.message == "ticket is used"
    assert caught.value.details["reverted"] is True


async def test_fees_need_a_registered_transcoder(
    chain: ChainClient, sender: Party, stranger: Party
) -> None:
    ticket = await make_ticket(chain, sender.address, stranger.address)
    reason = await chain.broker.simulate_redeem(ticket, sign(sender, ticket), 42, stranger.address)
    assert reason == "transcoder must be registered"


async def test_find_redemption_is_none_for_unredeemed_ticket(
    chain: ChainClient, sender: Party, recipient: Party
) -> None:
    ticket = await make_ticket(chain, sender.address, recipient.address)
    assert await chain.broker.find_redemption(ticket) is None


async def test_ticket_signed_by_another_key_is_refused(
    chain: ChainClient, sender: Party, recipient: Party, stranger: Party
) -> None:
    ticket = await make_ticket(chain, sender.address, recipient.address)
    reason = await chain.broker.simulate_redeem(
        ticket, sign(stranger, ticket), 42, recipient.address
    )
    assert reason == "invalid signature over ticket hash"


async def test_malformed_signatures_are_refused(
    chain: ChainClient, sender: Party, recipient: Party
) -> None:
    ticket = await make_ticket(chain, sender.address, recipient.address)
    sig = sign(sender, ticket)
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # same signer, high s
    for bad in (sig[:64], sig + b"\x00", sig[:64] + bytes([v - 27]), high_s):
        reason = await chain.broker.simulate_redeem(ticket, bad, 42, recipient.address)
        assert reason == "invalid signature over ticket hash", bad.hex()


async def test_wrong_recipient_rand_is_refused(
    chain: ChainClient, sender: Party, recipient: Party
) -> None:
    ticket = await make_ticket(chain, sender.address, recipient.address, recipient_rand=42)
    reason = await chain.broker.simulate_redeem(ticket, sign(sender, ticket), 43, recipient.address)
    assert reason == "recipientRand does not match recipientRandHash"


async def test_losing_ticket_is_refused(
    chain: ChainClient, sender: Party, recipient: Party
) -> None:
    ticket = await make_ticket(chain, sender.address, recipient.address, win_prob=0)
    reason = await chain.broker.simulate_redeem(ticket, sign(sender, ticket), 42, recipient.address)
    assert reason == "ticket did not win"


async def test_null_parties_are_refused(
    chain: ChainClient, sender: Party, recipient: Party
) -> None:
    null = "0x" + "00" * 20
    for ticket_sender, ticket_recipient, reason in (
        (sender.address, null, "ticket recipient is null address"),
        (null, recipient.address, "ticket sender is null address"),
    ):
        ticket = await make_ticket(chain, ticket_sender, ticket_recipient)
        verdict = await chain.broker.simulate_redeem(
            ticket, sign(sender, ticket), 42, recipient.address
        )
        assert verdict == reason


async def test_invalid_aux_data_is_refused(
    chain: ChainClient, sender: Party, recipient: Party
) -> None:
    good = await make_ticket(chain, sender.address, recipient.address)
    cases = {
        "invalid length for ticket auxData: must be 64 bytes": (0, b"\x00" * 32),
        "ticket creationRound does not have a block hash": (good.creation_round + 5, b"\x01" * 32),
        "ticket creationRound blockHash invalid for creationRound": (
            good.creation_round,
            b"\x01" * 32,
        ),
    }
    for reason, (round_, block_hash) in cases.items():
        ticket = Ticket(
            **{
                **good.__dict__,
                "creation_round": round_,
                "creation_round_block_hash": block_hash,
            }
        )
        verdict = await chain.broker.simulate_redeem(
            ticket, sign(sender, ticket), 42, recipient.address
        )
        assert verdict == reason


async def test_round_must_be_initialized_and_ticket_unexpired(
    isolated: ChainClient, sender: Party, recipient: Party, deployer: Party
) -> None:
    chain = isolated
    ticket = await make_ticket(chain, sender.address, recipient.address)
    sig = sign(sender, ticket)
    created = ticket.creation_round

    await mine_to_round(chain, created + 1)
    assert await chain.broker.simulate_redeem(ticket, sig, 42, recipient.address) == (
        "current round is not initialized"
    )
    await chain.rounds.initialize_round(deployer.key)
    assert await chain.rounds.last_initialized_round() == created + 1
    assert await chain.broker.simulate_redeem(ticket, sig, 42, recipient.address) is None
    with pytest.raises(ChainError, match="round already initialized"):
        await chain.rounds.initialize_round(deployer.key)

    await mine_to_round(chain, created + 2)
    await chain.rounds.initialize_round(deployer.key)
    assert (
        await chain.broker.simulate_redeem(ticket, sig, 42, recipient.address)
        == "ticket is expired"
    )


async def test_unfunded_sender_is_refused(
    chain: ChainClient, stranger: Party, recipient: Party
) -> None:
    ticket = await make_ticket(chain, stranger.address, recipient.address)
    reason = await chain.broker.simulate_redeem(
        ticket, sign(stranger, ticket), 42, recipient.address
    )
    assert reason == "sender deposit and reserve are zero"


async def test_payout_takes_deposit_then_reserve(isolated: ChainClient, recipient: Party) -> None:
    chain = isolated
    gateway = Party.from_key(b"\x11" * 32)
    await set_balance(chain, gateway.address, 10 * ETHER)
    deposit, reserve = 3 * ETHER // 10, ETHER
    await chain.broker.fund_deposit_and_reserve(gateway.key, deposit, reserve)

    first = await make_ticket(chain, gateway.address, recipient.address, face_value=ETHER // 2)
    paid = await chain.broker.redeem_winning_ticket(recipient.key, first, sign(gateway, first), 42)
    assert paid.amount == ETHER // 2
    info = await chain.broker.sender_info(gateway.address)
    assert info.deposit == 0
    assert info.reserve_funds_remaining == reserve - (ETHER // 2 - deposit)
    assert info.reserve_claimed_in_current_round == ETHER // 2 - deposit

    # Funds short of the face value: the recipient gets what is left of the reserve.
    second = await make_ticket(chain, gateway.address, recipient.address, face_value=2 * ETHER)
    paid = await chain.broker.redeem_winning_ticket(
        recipient.key, second, sign(gateway, second), 42
    )
    assert paid.amount == info.reserve_funds_remaining
    info = await chain.broker.sender_info(gateway.address)
    assert (info.deposit, info.reserve_funds_remaining) == (0, 0)
    assert info.reserve_claimed_in_current_round == reserve

    third = await make_ticket(chain, gateway.address, recipient.address)
    reason = await chain.broker.simulate_redeem(third, sign(gateway, third), 42, recipient.address)
    assert reason == "sender deposit and reserve are zero"


private_keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(
    lambda k: k.to_bytes(32, "big")
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    sender_key=private_keys,
    recipient_key=private_keys,
    face_value=st.integers(min_value=0, max_value=10 * ETHER),
    nonce=st.integers(min_value=0, max_value=MAX_UINT256),
    recipient_rand=st.integers(min_value=0, max_value=MAX_UINT256),
)
async def test_random_signatures_recover_on_chain(
    isolated: ChainClient,
    deployer: Party,
    sender_key: bytes,
    recipient_key: bytes,
    face_value: int,
    nonce: int,
    recipient_rand: int,
) -> None:
    chain = isolated
    gateway = Party.from_key(sender_key)
    orchestrator = Account.from_key(recipient_key).address
    if (await chain.broker.sender_info(gateway.address)).deposit == 0:
        await set_balance(chain, gateway.address, ETHER)
        await chain.broker.fund_deposit_and_reserve(gateway.key, ETHER // 2, 0)
    await ensure_round_initialized(chain, deployer.key)  # funding may have crossed a round
    ticket = await make_ticket(
        chain,
        gateway.address,
        orchestrator,
        face_value=face_value,
        nonce=nonce,
        recipient_rand=recipient_rand,
    )
    sig = sign(gateway, ticket)
    # Every check passed when the redemption gets as far as crediting the fees, which a random
    # recipient (not a transcoder) cannot take.
    expected = None if face_value == 0 else "transcoder must be registered"
    assert await chain.broker.simulate_redeem(ticket, sig, recipient_rand, orchestrator) == expected
