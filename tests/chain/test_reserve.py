"""TicketBroker funds: the reserve split among active orchestrators, unlock and withdraw."""

from __future__ import annotations

import pytest

from tollway.chain.client import ChainClient
from tollway.devnet.chain_setup import activate_orchestrator, mine_to_round, start_next_round
from tollway.errors import ChainError

from .conftest import UNLOCK_PERIOD
from .helpers import ETHER, Party, call_reason, make_ticket, new_party, sign

pytestmark = pytest.mark.chain


async def test_reserve_is_split_among_active_orchestrators(
    isolated: ChainClient, deployer: Party, recipient: Party, stranger: Party
) -> None:
    chain = isolated
    second = await new_party(chain, 0x0202)
    await activate_orchestrator(chain, deployer.key, second.key)
    gateway = await new_party(chain, 0x6A7E)
    await chain.broker.fund_reserve(gateway.key, ETHER)
    assert await chain.bonding.transcoder_pool_size() == 2

    half = ETHER // 2
    assert await chain.broker.claimable_reserve(gateway.address, recipient.address) == half
    assert await chain.broker.claimable_reserve(gateway.address, second.address) == half
    # Not active: no share of the reserve.
    assert await chain.broker.claimable_reserve(gateway.address, stranger.address) == 0

    # With no deposit a ticket is paid from the recipient's share of the reserve, and only that.
    first = await make_ticket(chain, gateway.address, recipient.address, face_value=3 * ETHER // 10)
    paid = await chain.broker.redeem_winning_ticket(recipient.key, first, sign(gateway, first), 42)
    assert paid.amount == 3 * ETHER // 10
    assert await chain.broker.claimed_reserve(gateway.address, recipient.address) == 3 * ETHER // 10
    assert (
        await chain.broker.claimable_reserve(gateway.address, recipient.address) == 2 * ETHER // 10
    )
    assert await chain.broker.claimable_reserve(gateway.address, second.address) == half

    over = await make_ticket(chain, gateway.address, recipient.address, face_value=4 * ETHER // 10)
    paid = await chain.broker.redeem_winning_ticket(recipient.key, over, sign(gateway, over), 42)
    assert paid.amount == 2 * ETHER // 10
    assert await chain.broker.claimable_reserve(gateway.address, recipient.address) == 0
    info = await chain.broker.sender_info(gateway.address)
    assert (info.reserve_funds_remaining, info.reserve_claimed_in_current_round) == (half, half)

    # A recipient with nothing left to claim is paid nothing, but the ticket is still used.
    broke = await make_ticket(chain, gateway.address, recipient.address)
    paid = await chain.broker.redeem_winning_ticket(recipient.key, broke, sign(gateway, broke), 42)
    assert paid.amount == 0
    assert await chain.broker.used_ticket(broke.hash())

    # A new round splits what is left afresh.
    await start_next_round(chain, deployer.key)
    assert await chain.broker.claimed_reserve(gateway.address, recipient.address) == 0
    assert await chain.broker.claimable_reserve(gateway.address, recipient.address) == half // 2
    assert await chain.broker.claimable_reserve(gateway.address, second.address) == half // 2


async def test_unlock_cancel_and_withdraw_follow_the_unlock_period(
    isolated: ChainClient, deployer: Party, recipient: Party
) -> None:
    chain = isolated
    gateway = await new_party(chain, 0x6A7F)
    deposit, reserve = ETHER, 2 * ETHER
    await chain.broker.fund_deposit_and_reserve(gateway.key, deposit, reserve)
    assert await call_reason(chain, "TicketBroker", "withdraw", sender=gateway.address) == (
        "account is locked"
    )
    assert await call_reason(chain, "TicketBroker", "cancelUnlock", sender=gateway.address) == (
        "no unlock request in progress"
    )

    round_ = await chain.rounds.current_round()
    await chain.broker.unlock(gateway.key)
    assert (
        await chain.broker.sender_info(gateway.address)
    ).withdraw_round == round_ + UNLOCK_PERIOD
    assert await call_reason(chain, "TicketBroker", "unlock", sender=gateway.address) == (
        "unlock already initiated"
    )
    await chain.broker.cancel_unlock(gateway.key)
    assert (await chain.broker.sender_info(gateway.address)).withdraw_round == 0

    # New funds cancel an unlock in progress.
    await chain.broker.unlock(gateway.key)
    await chain.broker.fund_deposit(gateway.key, 1)
    assert (await chain.broker.sender_info(gateway.address)).withdraw_round == 0
    deposit += 1

    await chain.broker.unlock(gateway.key)
    ticket = await make_ticket(chain, gateway.address, recipient.address)
    sig = sign(gateway, ticket)
    for ahead in range(1, UNLOCK_PERIOD):
        await mine_to_round(chain, round_ + ahead)
        await chain.rounds.initialize_round(deployer.key)
        assert await call_reason(chain, "TicketBroker", "withdraw", sender=gateway.address) == (
            "account is locked"
        )
        # Tickets stay redeemable until the unlock period ends.
        assert await chain.broker.simulate_redeem(ticket, sig, 42, recipient.address) is None

    await mine_to_round(chain, round_ + UNLOCK_PERIOD)
    await chain.rounds.initialize_round(deployer.key)
    fresh = await make_ticket(chain, gateway.address, recipient.address)
    reason = await chain.broker.simulate_redeem(fresh, sign(gateway, fresh), 42, recipient.address)
    assert reason == "sender is unlocked"
    before = await chain.balance(gateway.address)
    receipt = await chain.transact(gateway.key, "TicketBroker", "withdraw")
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert await chain.balance(gateway.address) - before == deposit + reserve - gas
    info = await chain.broker.sender_info(gateway.address)
    assert (info.deposit, info.reserve_funds_remaining, info.withdraw_round) == (0, 0, 0)
    with pytest.raises(ChainError, match="sender deposit and reserve are zero"):
        await chain.broker.withdraw(gateway.key)


async def test_funding_for_another_sender_and_value_checks(
    isolated: ChainClient, stranger: Party
) -> None:
    chain = isolated
    beneficiary = await new_party(chain, 0xBEEF, ether=0)
    await chain.broker.fund_deposit_and_reserve_for(stranger.key, beneficiary.address, 3, 4)
    info = await chain.broker.sender_info(beneficiary.address)
    assert (info.deposit, info.reserve_funds_remaining) == (3, 4)
    assert await call_reason(
        chain, "TicketBroker", "fundDepositAndReserve", 1, 1, sender=stranger.address, value=3
    ) == ("msg.value does not equal sum of deposit amount and reserve amount")
