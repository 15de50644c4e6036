"""A session-wide anvil devnet with tollway's contracts deployed, a funded sender and an active
orchestrator (the recipient).

Nothing here skips: a missing anvil or solcjs makes these fixtures fail loudly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tollway.chain.addresses import ContractAddresses
from tollway.chain.client import ChainClient
from tollway.devnet.anvil import AnvilProcess, dev_account_key
from tollway.devnet.chain_setup import activate_orchestrator
from tollway.devnet.deploy import deploy_devnet

from .helpers import ETHER, Party, rpc

ROUND_LENGTH = 100
UNBONDING_PERIOD = 3
UNLOCK_PERIOD = 2
SENDER_DEPOSIT = 5 * ETHER
SENDER_RESERVE = 5 * ETHER


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilProcess]:
    log_path = tmp_path_factory.mktemp("anvil") / "anvil.log"
    process = AnvilProcess(log_path=log_path).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def deployer() -> Party:
    return Party.from_key(dev_account_key(0))


@pytest.fixture(scope="session")
def recipient() -> Party:
    """The orchestrator: an active transcoder that receives tickets and pays the redemption gas."""
    return Party.from_key(dev_account_key(1))


@pytest.fixture(scope="session")
def sender() -> Party:
    """The gateway: funded with SENDER_DEPOSIT and SENDER_RESERVE on the broker."""
    return Party.from_key(dev_account_key(2))


@pytest.fixture(scope="session")
def stranger() -> Party:
    """A funded account with nothing on the broker."""
    return Party.from_key(dev_account_key(3))


@pytest.fixture(scope="session")
def devnet(anvil: AnvilProcess, deployer: Party) -> ContractAddresses:
    return deploy_devnet(
        anvil.rpc_url,
        deployer.key,
        round_length=ROUND_LENGTH,
        unbonding_period=UNBONDING_PERIOD,
        unlock_period=UNLOCK_PERIOD,
    )


@pytest.fixture(scope="session")
async def chain(
    anvil: AnvilProcess, devnet: ContractAddresses, deployer: Party, sender: Party, recipient: Party
) -> AsyncIterator[ChainClient]:
    async with ChainClient(anvil.rpc_url, devnet) as client:
        await client.broker.fund_deposit_and_reserve(sender.key, SENDER_DEPOSIT, SENDER_RESERVE)
        await activate_orchestrator(client, deployer.key, recipient.key)
        yield client


@pytest.fixture
async def isolated(chain: ChainClient) -> AsyncIterator[ChainClient]:
    """The chain, reverted to its current state (evm_snapshot/evm_revert) after the test."""
    snapshot = await rpc(chain, "evm_snapshot")
    try:
        yield chain
    finally:
        assert await rpc(chain, "evm_revert", snapshot) is True
