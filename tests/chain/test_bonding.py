"""BondingManager: bonding, unbonding, the active set, reward(), fees and delegator earnings.

The session's recipient is an active transcoder with DEFAULT_STAKE (1,000 LPT) bonded to itself,
a 10% reward cut and a 50% fee share; every round mints DEFAULT_MINTABLE_PER_ROUND (1,000 LPT).
"""

from __future__ import annotations

import pytest

from tollway.chain.addresses import ContractAddresses
from tollway.chain.client import ChainClient
from tollway.devnet.chain_setup import (
    DEFAULT_STAKE,
    activate_orchestrator,
    mine_to_round,
    start_next_round,
)
from tollway.devnet.deploy import DEFAULT_MINTABLE_PER_ROUND, LPT
from tollway.errors import ChainError

from .conftest import UNBONDING_PERIOD
from .helpers import ETHER, Party, call_reason, make_ticket, new_party, sign, view

pytestmark = pytest.mark.chain


async def delegate(chain: ChainClient, deployer: Party, seed: int, amount: int, to: str) -> Party:
    """A fresh delegator that bonds `amount` LPT (sent by the deployer) to `to`."""
    party = await new_party(chain, seed)
    bonding_manager = (await chain.contract("BondingManager")).address
    await chain.token.transfer(deployer.key, party.address, amount)
    await chain.token.approve(party.key, bonding_manager, amount)
    await chain.bonding.bond(party.key, amount, to)
    return party


async def test_bond_unbond_and_withdraw_stake_after_the_unbonding_period(
    isolated: ChainClient, devnet: ContractAddresses, deployer: Party, recipient: Party
) -> None:
    chain = isolated
    minter_lpt = await chain.token.balance(devnet.minter)
    alice = await delegate(chain, deployer, 0xA11CE, 300 * LPT, recipient.address)
    assert await chain.token.balance(devnet.minter) - minter_lpt == 300 * LPT
    info = await chain.bonding.delegator(alice.address)
    round_ = await chain.rounds.current_round()
    assert (info.bonded_amount, info.delegate_address, info.start_round) == (
        300 * LPT,
        recipient.address,
        round_ + 1,
    )
    assert (
        await chain.bonding.transcoder(recipient.address)
    ).total_stake == DEFAULT_STAKE + 300 * LPT

    assert await call_reason(chain, "BondingManager", "unbond", 0, sender=alice.address) == (
        "unbond amount must be greater than 0"
    )
    assert await call_reason(
        chain, "BondingManager", "unbond", 301 * LPT, sender=alice.address
    ) == ("amount is greater than bonded amount")
    stranger = await new_party(chain, 0x5757)
    assert await call_reason(chain, "BondingManager", "unbond", 1, sender=stranger.address) == (
        "caller must be bonded"
    )

    lock = await chain.bonding.unbond(alice.key, 100 * LPT)
    assert (lock.id, lock.amount, lock.withdraw_round) == (0, 100 * LPT, round_ + UNBONDING_PERIOD)
    assert await chain.bonding.unbonding_lock(alice.address, 0) == lock
    assert (await chain.bonding.delegator(alice.address)).bonded_amount == 200 * LPT
    assert (
        await chain.bonding.transcoder(recipient.address)
    ).total_stake == DEFAULT_STAKE + 200 * LPT

    early = "withdraw round must be before or equal to the current round"
    for round_ahead in range(1, UNBONDING_PERIOD):
        await mine_to_round(chain, round_ + round_ahead)
        await chain.rounds.initialize_round(deployer.key)
        assert await call_reason(
            chain, "BondingManager", "withdrawStake", 0, sender=alice.address
        ) == (early)
    await mine_to_round(chain, lock.withdraw_round)
    await chain.rounds.initialize_round(deployer.key)
    await chain.bonding.withdraw_stake(alice.key, lock.id)
    assert await chain.token.balance(alice.address) == 100 * LPT
    assert await call_reason(chain, "BondingManager", "withdrawStake", 0, sender=alice.address) == (
        "invalid unbonding lock ID"
    )

    # Unbonding the rest ends the delegation.
    second = await chain.bonding.unbond(alice.key, 200 * LPT)
    assert second.id == 1
    info = await chain.bonding.delegator(alice.address)
    assert (info.bonded_amount, int(info.delegate_address, 16)) == (0, 0)


async def test_bond_needs_approval_and_an_initialized_round(
    isolated: ChainClient, deployer: Party, recipient: Party
) -> None:
    chain = isolated
    bob = await new_party(chain, 0xB0B)
    await chain.token.transfer(deployer.key, bob.address, 10 * LPT)
    assert await call_reason(
        chain, "BondingManager", "bond", 10 * LPT, recipient.address, sender=bob.address
    ) == ("ERC20: insufficient allowance")
    await mine_to_round(chain, await chain.rounds.current_round() + 1)
    assert await call_reason(
        chain, "BondingManager", "bond", 10 * LPT, recipient.address, sender=bob.address
    ) == ("current round is not initialized")


async def test_active_set_is_the_largest_stakes_up_to_the_pool_limit(
    isolated: ChainClient, deployer: Party, recipient: Party
) -> None:
    chain = isolated
    await chain.transact(deployer.key, "BondingManager", "setNumActiveTranscoders", 2)
    assert await call_reason(
        chain, "BondingManager", "setNumActiveTranscoders", 0, sender=deployer.address
    ) == ("pool is larger than the new size")

    small, big, tiny = [await new_party(chain, seed) for seed in (0x51, 0x52, 0x53)]
    await activate_orchestrator(chain, deployer.key, small.key, stake=500 * LPT)
    assert await chain.bonding.transcoder_pool_size() == 2
    assert await chain.bonding.is_active_transcoder(small.address)

    # A larger stake evicts the smallest member, both from the next round on.
    await chain.token.transfer(deployer.key, big.address, 2_000 * LPT)
    bonding_manager = (await chain.contract("BondingManager")).address
    await chain.token.approve(big.key, bonding_manager, 2_000 * LPT)
    await chain.bonding.bond(big.key, 2_000 * LPT, big.address)
    assert await chain.bonding.transcoder_pool_size() == 2
    assert await chain.bonding.is_active_transcoder(small.address)
    assert not await chain.bonding.is_active_transcoder(big.address)
    round_ = await start_next_round(chain, deployer.key)
    assert not await chain.bonding.is_active_transcoder(small.address)
    assert await chain.bonding.is_active_transcoder(big.address)
    assert await chain.bonding.is_active_transcoder(recipient.address)
    assert set(await chain.bonding.transcoder_pool()) == {recipient.address, big.address}
    evicted = await chain.bonding.transcoder(small.address)
    assert (evicted.registered, evicted.active, evicted.deactivation_round) == (True, False, round_)

    # A stake below every member's does not get in at all.
    with pytest.raises(ChainError, match="not active"):
        await activate_orchestrator(chain, deployer.key, tiny.key, stake=100 * LPT)
    assert await chain.bonding.transcoder_pool_size() == 2
    assert await view(chain, "BondingManager", "getTotalBonded") == DEFAULT_STAKE + 2_000 * LPT


async def test_reward_once_per_round_by_active_transcoders_only(
    isolated: ChainClient, deployer: Party, recipient: Party, stranger: Party
) -> None:
    chain = isolated
    assert await call_reason(chain, "BondingManager", "reward", sender=stranger.address) == (
        "caller must be an active transcoder"
    )
    rewarded = await chain.bonding.reward(recipient.key)
    # The only active transcoder holds all active stake, so it mints the round's whole issuance.
    assert rewarded.amount == DEFAULT_MINTABLE_PER_ROUND
    round_ = await chain.rounds.current_round()
    assert await chain.bonding.last_reward_round(recipient.address) == round_
    with pytest.raises(ChainError) as caught:
        await chain.bonding.reward(recipient.key)
    assert caught.value.message == "caller has already called reward for the current round"
    assert await chain.bonding.pending_stake(recipient.address) == DEFAULT_STAKE + rewarded.amount

    # Next round, beside a second transcoder: each mints in proportion to its active stake.
    other = await new_party(chain, 0x0C)
    await activate_orchestrator(chain, deployer.key, other.key, stake=3 * DEFAULT_STAKE)
    total = await view(chain, "BondingManager", "getTotalBonded")
    assert total == (DEFAULT_STAKE + rewarded.amount) + 3 * DEFAULT_STAKE
    mine = await chain.bonding.reward(recipient.key)
    theirs = await chain.bonding.reward(other.key)
    assert mine.amount == DEFAULT_MINTABLE_PER_ROUND * (DEFAULT_STAKE + rewarded.amount) // total
    assert theirs.amount == DEFAULT_MINTABLE_PER_ROUND * 3 * DEFAULT_STAKE // total
    assert await view(chain, "Minter", "currentMintedTokens") == mine.amount + theirs.amount


async def test_fees_are_credited_and_withdrawn_in_eth(
    isolated: ChainClient, devnet: ContractAddresses, sender: Party, recipient: Party
) -> None:
    chain = isolated
    ticket = await make_ticket(chain, sender.address, recipient.address, face_value=ETHER // 4)
    fees_before = await chain.bonding.pending_fees(recipient.address)
    await chain.broker.redeem_winning_ticket(recipient.key, ticket, sign(sender, ticket), 42)
    fees = await chain.bonding.pending_fees(recipient.address)
    assert fees - fees_before == ETHER // 4
    assert (
        await chain.bonding.transcoder(recipient.address)
    ).last_fee_round == ticket.creation_round

    payee = await new_party(chain, 0xFEE, ether=0)
    minter_before = await chain.balance(devnet.minter)
    await chain.bonding.withdraw_fees(recipient.key, payee.address, fees)
    assert await chain.balance(payee.address) == fees
    assert minter_before - await chain.balance(devnet.minter) == fees
    assert await chain.bonding.pending_fees(recipient.address) == 0
    assert await call_reason(
        chain, "BondingManager", "withdrawFees", payee.address, 1, sender=recipient.address
    ) == ("insufficient fees to withdraw")


async def test_delegators_share_rewards_and_fees_by_stake(
    isolated: ChainClient, deployer: Party, sender: Party, recipient: Party
) -> None:
    """1,000 LPT of the transcoder's own and 1,000 of a delegator's: the cuts split the rest."""
    chain = isolated
    dave = await delegate(chain, deployer, 0xDA7E, DEFAULT_STAKE, recipient.address)
    await start_next_round(chain, deployer.key)  # the delegation counts from the next round

    rewarded = await chain.bonding.reward(recipient.key)
    assert rewarded.amount == 1_000 * LPT
    # 10% cut (100 LPT) to the transcoder, 900 LPT shared by 2,000 LPT of stake.
    assert await chain.bonding.pending_stake(dave.address) == 1_450 * LPT
    assert await chain.bonding.pending_stake(recipient.address) == 1_550 * LPT

    # 50% of the fees to delegators by stake: the cut is not staked until claimed, so
    # 1,450 of 2,900 LPT each; the transcoder's commission is the other half.
    fees_before = await chain.bonding.pending_fees(recipient.address)
    face_value = ETHER // 10
    ticket = await make_ticket(chain, sender.address, recipient.address, face_value=face_value)
    await chain.broker.redeem_winning_ticket(recipient.key, ticket, sign(sender, ticket), 42)
    assert await chain.bonding.pending_fees(dave.address) == face_value // 4
    assert await chain.bonding.pending_fees(recipient.address) - fees_before == face_value * 3 // 4

    total = (await chain.bonding.transcoder(recipient.address)).total_stake
    assert total == 3_000 * LPT
    assert await chain.bonding.pending_stake(dave.address) + await chain.bonding.pending_stake(
        recipient.address
    ) == (total)

    # Claiming moves the earnings into the delegator's record without changing them.
    await chain.bonding.claim_earnings(dave.key)
    info = await chain.bonding.delegator(dave.address)
    assert (info.bonded_amount, info.fees) == (1_450 * LPT, face_value // 4)
    assert info.last_claim_round == await chain.rounds.current_round()
    assert await chain.bonding.pending_stake(dave.address) == 1_450 * LPT

    # The claimed stake earns next round's reward; fees stay withdrawable after unbonding.
    await start_next_round(chain, deployer.key)
    await chain.bonding.reward(recipient.key)
    assert await chain.bonding.pending_stake(dave.address) > 1_450 * LPT
    lock = await chain.bonding.unbond(dave.key, await chain.bonding.pending_stake(dave.address))
    assert lock.amount > 1_450 * LPT
    await chain.bonding.withdraw_fees(dave.key, dave.address, face_value // 4)
    assert await chain.bonding.pending_fees(dave.address) == 0
