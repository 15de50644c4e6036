"""Test helpers that talk to a running stack the way its users and peers would."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3
from web3.types import RPCEndpoint

from tollway.chain.addresses import ContractAddresses
from tollway.chain.artifacts import load_artifact
from tollway.chain.client import ChainClient
from tollway.config import KeySettings
from tollway.devnet import processes
from tollway.devnet.state import ProcessRecord, StackState
from tollway.payments.keys import load_key
from tollway.payments.sender import NonceStore, TicketSender
from tollway.protocol.header import JobRequest, encode_eth_address_header
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price

ECHO_PRICE = 10**13
TERMINAL = {"succeeded", "rejected", "failed"}


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> float:
    """Poll `check` until it holds; the seconds that took. Fails naming `what` at `timeout`."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what} after {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


class StackClient:
    def __init__(self, state: StackState) -> None:
        self.state = state
        keystore = Path(state.gateway_keystore)
        self.gateway_key, self.gateway_address = load_key(
            KeySettings(keystore=keystore, password_file=keystore.with_name("keystore.password"))
        )
        self.gateway = httpx.Client(
            base_url=state.endpoints.gateway_api,
            headers={"Authorization": f"Bearer {state.api_key}"},
            timeout=60,
        )
        self.orchestrator = httpx.Client(base_url=state.endpoints.orchestrator_api, timeout=60)
        self.w3 = Web3(Web3.HTTPProvider(state.endpoints.chain_rpc))
        self.broker = self.w3.eth.contract(
            address=Web3.to_checksum_address(state.contracts["ticket_broker"]),
            abi=load_artifact("TicketBroker").abi,
        )
        self.bonding = self.w3.eth.contract(
            address=Web3.to_checksum_address(state.contracts["bonding_manager"]),
            abi=load_artifact("BondingManager").abi,
        )

    def stop(self, name: str, sig: int = signal.SIGKILL) -> list[str]:
        """Stop one of the stack's processes; returns its command line, to start it again."""
        record = self.state.processes[name]
        argv = Path(f"/proc/{record.pid}/cmdline").read_bytes().decode().split("\0")
        os.kill(record.pid, sig)
        processes.wait_until(lambda: not record.alive(), f"{name} to stop", timeout=30)
        return [a for a in argv if a]

    def start(self, name: str, argv: list[str]) -> None:
        record = self.state.processes[name]
        pid = processes.spawn(argv, Path(record.log))
        self.state.processes[name] = ProcessRecord(
            pid=pid, started=processes.start_ticks(pid), log=record.log, health=record.health
        )
        self.state.save()  # so `tollway down` stops the new process
        if record.health:
            health = record.health
            processes.wait_until(lambda: processes.http_ok(health), name, timeout=60, pid=pid)

    def restart(self, name: str) -> None:
        """SIGKILL one of the stack's processes and start it again with its own command line."""
        self.start(name, self.stop(name))

    def restart_chain(self, argv: list[str]) -> None:
        """Start anvil again from the state it dumped when stopped, mining a block a second
        (`--state` loads it and dumps it again when stopped: it can be restarted again)."""
        if "--number" in argv:  # the loaded state has its own height
            number = argv.index("--number")
            argv = argv[:number] + argv[number + 2 :]
        if "--dump-state" in argv:
            argv[argv.index("--dump-state")] = "--state"
        self.start("anvil", argv)
        port = int(self.state.endpoints.chain_rpc.rpartition(":")[2])
        processes.wait_until(lambda: processes.port_open(port), "anvil", timeout=30)
        self.w3.provider.make_request(RPCEndpoint("evm_setIntervalMining"), [1])

    @contextmanager
    def chain_frozen(self) -> Iterator[None]:
        """No new blocks inside (so ticket params cannot expire), one a second again after."""
        self.w3.provider.make_request(RPCEndpoint("evm_setIntervalMining"), [0])
        try:
            yield
        finally:
            self.w3.provider.make_request(RPCEndpoint("evm_setIntervalMining"), [1])

    def chain(self) -> ChainClient:
        """An async client for the stack's chain (use it as `async with`)."""
        return ChainClient(
            self.state.endpoints.chain_rpc, ContractAddresses.model_validate(self.state.contracts)
        )

    def close(self) -> None:
        self.gateway.close()
        self.orchestrator.close()

    def token(self, capability: str = "echo") -> dict[str, Any]:
        answer = self.orchestrator.get(
            "/process/token",
            headers={
                "Livepeer-Eth-Address": encode_eth_address_header(
                    self.gateway_key, self.gateway_address
                ),
                "Livepeer-Capability": capability,
            },
        )
        assert answer.status_code == 200, answer.text
        token: dict[str, Any] = answer.json()
        return token

    def credit(self, capability: str = "echo") -> int:
        return int(self.token(capability).get("balance", 0))

    def payment(self, nonces: Path, capability: str = "echo", tickets: int = 2) -> tuple[str, int]:
        """A `Livepeer-Payment` of `tickets` tickets on a fresh token, and their EV in wei."""
        token = self.token(capability)
        sender = TicketSender(self.gateway_key, self.gateway_address, NonceStore(nonces))
        batch = sender.batch(
            TicketParams.from_json(token["ticket_params"]), Price.from_json(token["price"]), tickets
        )
        return batch.payment.encode(), batch.ev_wei

    def orchestrator_metric(self, name: str, **labels: str) -> float:
        """The sum of the orchestrator API's samples of `name` that carry all `labels`."""
        total = 0.0
        for line in self.orchestrator.get("/metrics").text.splitlines():
            sample, _, value = line.rpartition(" ")
            if sample.split("{")[0] != name:
                continue
            if all(f'{key}="{wanted}"' in sample for key, wanted in labels.items()):
                total += float(value)
        return total

    def signed_header(self, capability: str = "echo", timeout: int = 60, **extra: str) -> str:
        job = JobRequest(capability=capability, timeout_seconds=timeout, **extra)
        return job.signed_by(self.gateway_key, self.gateway_address).encode()

    def wait_job(self, job_id: str, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.gateway.get(f"/v1/jobs/{job_id}")
            if answer.status_code == 200 and answer.json()["state"] in TERMINAL:
                job: dict[str, Any] = answer.json()
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s")

    def redeemed(self) -> dict[str, str]:
        status = self.orchestrator.get("/v1/redemptions").json()
        assert not status["failed"], status["failed"]
        redeemed: dict[str, str] = status["redeemed"]
        return redeemed

    def wait_redemptions_idle(self, timeout: float = 90) -> None:
        """Until no winning ticket waits to be redeemed (earlier tests' tickets are settled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.orchestrator.get("/v1/redemptions").json()
            if not status.get("queued") and not status.get("pending"):
                return
            time.sleep(0.2)
        raise AssertionError(f"redemptions still queued after {timeout} s")

    def wait_redemptions(self, before: set[str], count: int, timeout: float = 60) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = {h: tx for h, tx in self.redeemed().items() if h not in before}
            if len(fresh) >= count:
                return fresh
            time.sleep(0.2)
        raise AssertionError(f"fewer than {count} new redemptions after {timeout} s")


def metric_sample(url: str, sample: str) -> float:
    """One sample of a service's Prometheus page, e.g.
    `tollway_stream_segments_total{direction="in"}`; 0 when absent."""
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0
