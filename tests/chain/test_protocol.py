"""Controller, LivepeerToken, Minter, RoundsManager and ServiceRegistry on the devnet."""

from __future__ import annotations

from typing import Any

import pytest

from tollway.chain.addresses import CONTRACT_FIELDS, ContractAddresses, contract_id
from tollway.chain.client import ChainClient
from tollway.devnet.chain_setup import DEFAULT_STAKE, start_next_round
from tollway.devnet.deploy import DEFAULT_MINTABLE_PER_ROUND
from tollway.errors import ChainError

from .conftest import SENDER_DEPOSIT, SENDER_RESERVE
from .helpers import ETHER, Party, call_reason, make_ticket, new_party, sign, view

pytestmark = pytest.mark.chain


async def test_controller_registers_each_contract_under_keccak_of_its_name(
    chain: ChainClient, devnet: ContractAddresses
) -> None:
    for name, field in CONTRACT_FIELDS.items():
        assert await view(chain, "Controller", "getContract", contract_id(name)) == getattr(
            devnet, field
        )


async def test_client_finds_unlisted_contracts_through_the_controller(
    chain: ChainClient, devnet: ContractAddresses, recipient: Party
) -> None:
    minimal = ContractAddresses(
        ticket_broker=devnet.ticket_broker, rounds_manager=devnet.rounds_manager
    )
    async with ChainClient(chain.rpc_url, minimal) as client:
        assert await client.bonding.is_active_transcoder(recipient.address)
        assert (await client.contract("BondingManager")).address == devnet.bonding_manager
        assert (await client.contract("Controller")).address == devnet.controller


async def test_only_the_owner_registers_and_pauses(
    isolated: ChainClient, deployer: Party, sender: Party, recipient: Party, stranger: Party
) -> None:
    chain = isolated
    register = ("setContractInfo", contract_id("Minter"), stranger.address, b"\x00" * 20)
    assert await call_reason(chain, "Controller", *register, sender=stranger.address) == (
        "caller must be owner"
    )
    assert await call_reason(chain, "Controller", "pause", sender=stranger.address) == (
        "caller must be owner"
    )

    ticket = await make_ticket(chain, sender.address, recipient.address)
    await chain.transact(deployer.key, "Controller", "pause")
    reason = await chain.broker.simulate_redeem(ticket, sign(sender, ticket), 42, recipient.address)
    assert reason == "system is paused"
    with pytest.raises(ChainError, match="system is paused"):
        await chain.broker.fund_deposit(stranger.key, ETHER)
    with pytest.raises(ChainError, match="system is paused"):
        await chain.bonding.reward(recipient.key)

    await chain.transact(deployer.key, "Controller", "unpause")
    assert (
        await chain.broker.simulate_redeem(ticket, sign(sender, ticket), 42, recipient.address)
        is None
    )


async def test_token_is_a_plain_erc20_minted_only_by_the_minter(
    isolated: ChainClient, deployer: Party, stranger: Party
) -> None:
    chain = isolated
    assert await view(chain, "LivepeerToken", "symbol") == "LPT"
    assert await view(chain, "LivepeerToken", "decimals") == 18
    assert await call_reason(
        chain, "LivepeerToken", "mint", stranger.address, 1, sender=deployer.address
    ) == ("caller must be Minter")

    spender = await new_party(chain, 0x5151)
    await chain.token.transfer(deployer.key, stranger.address, 10 * ETHER)
    assert await chain.token.balance(stranger.address) == 10 * ETHER
    await chain.token.approve(stranger.key, spender.address, 4 * ETHER)
    transfer_from = ("transferFrom", stranger.address, spender.address, 3 * ETHER)
    await chain.transact(spender.key, "LivepeerToken", *transfer_from)
    assert await chain.token.balance(spender.address) == 3 * ETHER
    assert await call_reason(chain, "LivepeerToken", *transfer_from, sender=spender.address) == (
        "ERC20: insufficient allowance"
    )
    assert await call_reason(
        chain, "LivepeerToken", "transfer", spender.address, 8 * ETHER, sender=stranger.address
    ) == ("ERC20: transfer amount exceeds balance")


async def test_protocol_internals_refuse_outside_callers(
    chain: ChainClient, stranger: Party, recipient: Party
) -> None:
    s = stranger.address
    cases: dict[tuple[Any, ...], str] = {
        ("Minter", "depositETH"): "caller must be TicketBroker",
        ("Minter", "trustedWithdrawETH", s, 1): "caller must be BondingManager or TicketBroker",
        ("Minter", "trustedTransferTokens", s, 1): "caller must be BondingManager",
        ("Minter", "createReward", 1, 1): "caller must be BondingManager",
        ("Minter", "setCurrentRewardTokens"): "caller must be RoundsManager",
        ("BondingManager", "setCurrentRoundTotalActiveStake"): "caller must be RoundsManager",
        (
            "BondingManager",
            "updateTranscoderWithFees",
            recipient.address,
            1,
            0,
        ): "caller must be TicketBroker",
        ("BondingManager", "setNumActiveTranscoders", 5): "caller must be Controller owner",
    }
    for (contract, method, *args), reason in cases.items():
        assert await call_reason(chain, contract, method, *args, sender=s) == reason, method


async def test_funding_moves_eth_to_the_minter(
    isolated: ChainClient, devnet: ContractAddresses, stranger: Party
) -> None:
    chain = isolated
    assert await chain.balance(devnet.ticket_broker) == 0
    before = await chain.balance(devnet.minter)
    await chain.broker.fund_reserve(stranger.key, 2 * ETHER)
    await chain.broker.fund_deposit(stranger.key, ETHER)
    assert await chain.balance(devnet.minter) - before == 3 * ETHER
    assert await chain.balance(devnet.ticket_broker) == 0
    info = await chain.broker.sender_info(stranger.address)
    assert (info.deposit, info.reserve_funds_remaining) == (ETHER, 2 * ETHER)
    assert await chain.balance(devnet.minter) >= SENDER_DEPOSIT + SENDER_RESERVE


async def test_initialize_round_fixes_active_stake_and_opens_issuance(
    isolated: ChainClient, deployer: Party, recipient: Party
) -> None:
    chain = isolated
    round_ = await start_next_round(chain, deployer.key)
    assert await chain.rounds.current_round_initialized()
    assert await chain.rounds.last_initialized_round() == round_
    assert (
        await chain.rounds.current_round_start_block() == round_ * await chain.rounds.round_length()
    )
    assert await view(chain, "BondingManager", "getTotalBonded") == DEFAULT_STAKE
    assert await view(chain, "Minter", "currentMintableTokens") == DEFAULT_MINTABLE_PER_ROUND
    assert await view(chain, "Minter", "currentMintedTokens") == 0
    transcoder = await chain.bonding.transcoder(recipient.address)
    assert (transcoder.active_stake, transcoder.last_active_stake_update_round) == (
        DEFAULT_STAKE,
        round_,
    )
    with pytest.raises(ChainError, match="round already initialized"):
        await chain.rounds.initialize_round(deployer.key)


async def test_service_registry(isolated: ChainClient, stranger: Party) -> None:
    chain = isolated
    assert await chain.registry.service_uri(stranger.address) == ""
    await chain.registry.set_service_uri(stranger.key, "https://127.0.0.1:8935")
    assert await chain.registry.service_uri(stranger.address) == "https://127.0.0.1:8935"
