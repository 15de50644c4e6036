"""Over 5 rounds, with the orchestrator worker SIGKILLed once, reward() runs exactly once per
round: a short-round devnet on anvil, a Temporal dev server, and the real worker process driven
by its own reward schedule (ticking every second)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from eth_account import Account
from temporalio.testing import WorkflowEnvironment

from tollway.chain.client import ChainClient
from tollway.config import ChainSettings, KeySettings, OrchestratorSettings
from tollway.devnet import processes
from tollway.devnet.anvil import AnvilProcess, dev_account_key
from tollway.devnet.chain_setup import activate_orchestrator, mine_to_round
from tollway.devnet.deploy import deploy_devnet
from tollway.devnet.toolpaths import venv_binary
from tollway.netutil import free_port
from tollway.payments.keys import create_keystore

ROUND_LENGTH = 40
ROUNDS = 5


@pytest.fixture
async def devnet() -> AsyncIterator[tuple[ChainClient, bytes]]:
    with AnvilProcess() as anvil:
        deployer = dev_account_key(0)
        contracts = deploy_devnet(anvil.rpc_url, deployer, round_length=ROUND_LENGTH)
        orchestrator = bytes(Account.create().key)
        async with ChainClient(anvil.rpc_url, contracts) as chain:
            await chain.transfer(deployer, Account.from_key(orchestrator).address, 10**20)
            await activate_orchestrator(chain, deployer, orchestrator)
            yield chain, orchestrator


def start_worker(config: Path, log: Path) -> int:
    return processes.spawn(
        [sys.executable, "-m", "tollway", "orchestrator", "worker", "--config", str(config)], log
    )


async def test_reward_once_per_round_across_a_worker_kill(
    devnet: tuple[ChainClient, bytes], tmp_path: Path
) -> None:
    chain, key = devnet
    address = Account.from_key(key).address
    key_files = KeySettings(keystore=tmp_path / "ks.json", password_file=tmp_path / "ks.pw")
    create_keystore(key_files, key)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"), ip="127.0.0.1", ui=False
    )
    settings = OrchestratorSettings(
        port=free_port(),
        secret="s" * 24,
        data_dir=tmp_path,
        key=key_files,
        chain=ChainSettings(
            rpc_url=chain.rpc_url,
            ticket_broker=chain.contracts.ticket_broker,
            rounds_manager=chain.contracts.rounds_manager,
        ),
        temporal_address=env.client.service_client.config.target_host,
        namespace="default",
        task_queue=f"rewards-{os.getpid()}",
        reward_every_seconds=1,
    )
    config = tmp_path / "orchestrator.json"
    config.write_text(settings.model_dump_json())
    log = tmp_path / "worker.log"
    pid = start_worker(config, log)
    first_round = await chain.rounds.current_round()
    try:
        for round_ in range(first_round, first_round + ROUNDS):
            if round_ > first_round:
                await mine_to_round(chain, round_)
            if round_ == first_round + 2:  # kill the worker while this round's tick is due
                await asyncio.sleep(0.7)
                os.kill(pid, signal.SIGKILL)
                await asyncio.sleep(1.5)
                pid = start_worker(config, log)
            deadline = time.monotonic() + 45
            while await chain.bonding.last_reward_round(address) < round_:
                assert time.monotonic() < deadline, (
                    f"no reward in round {round_}:\n{log.read_text()[-3000:]}"
                )
                await asyncio.sleep(0.3)
        await asyncio.sleep(2.5)  # further ticks in the last round must not call again
    finally:
        processes.stop(pid)
        await env.shutdown()
    bonding = await chain.contract("BondingManager")
    events = await bonding.events.Reward().get_logs(from_block=0)
    rounds = [
        e["blockNumber"] // ROUND_LENGTH for e in events if e["args"]["transcoder"] == address
    ]
    assert rounds == list(range(first_round, first_round + ROUNDS))
