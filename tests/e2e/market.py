"""A messy market on one machine: a Temporal dev server, anvil with our contracts, several
orchestrators (API and worker processes, each its own task queue) with different prices whose
BYOC workers are fast, slow or flaky, one that is registered on-chain but dead, and a gateway
that finds them all through the chain.

Used by tests/e2e/test_marketplace.py and bench/selection.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from web3 import Web3
from web3.types import RPCEndpoint

from tollway.byoc.declaration import load_declarations
from tollway.byoc.docker_runtime import DockerRuntime
from tollway.byoc.fleet import FleetInput, replica_inputs
from tollway.byoc.placement import Placement
from tollway.byoc.replica import ContainerState
from tollway.config import (
    ORCHESTRATOR_NAMESPACE,
    ChainSettings,
    GatewaySettings,
    GpuWorkerSettings,
    OrchestratorSettings,
)
from tollway.devnet import processes
from tollway.devnet.anvil import dev_account_key
from tollway.devnet.deploy import deploy_devnet
from tollway.devnet.up import Launcher, Ports, fund_market, role_key, start_temporal_and_chain
from tollway.netutil import free_port
from tollway.payments.keys import create_keystore
from tollway.temporal import connect
from tollway.workflows.container import ContainerWorkflow

ROUND_LENGTH = 1_000
"""Blocks per round: short enough to activate each orchestrator quickly by mining, long enough
(about 16 minutes at a block a second) that no round rolls over during a run."""
STAKE = 1_000 * 10**18
WORKER = Path(__file__).with_name("faulty_worker.py")
STREAM_WORKER = Path(__file__).with_name("stream_worker.py")
STREAM_CAPABILITY = "stream-echo"
LIVE_CAPABILITY = "live-effect"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MARKET_LABEL = "tollway.stack"


@dataclass(frozen=True)
class Seller:
    name: str
    price_wei_per_second: int
    delay_ms: int = 0
    fail_every: int = 0
    dead: bool = False
    capacity: int = 8
    streams: bool = False
    """Also serves `stream-echo` live streams, on a stream worker of its own."""
    live: bool = False
    """Also serves `live-effect` (examples/live-effect) in Docker, on a GPU worker of its own
    that bridges the orchestrator's trickle server into the container."""


GWEI = 10**9
FAULTY_MARKET = [
    Seller("cheap", 1_000 * GWEI),
    Seller("pricey", 4_000 * GWEI),
    Seller("slow", 1_500 * GWEI, delay_ms=400),
    Seller("flaky", 1_000 * GWEI, fail_every=2),
    Seller("dead", 1_000 * GWEI, dead=True),
]
"""The issue's messy market: different prices, one slow, one failing half its jobs, one dead."""


@dataclass
class RunningMarket:
    gateway_url: str
    api_key: str
    urls: dict[str, str]
    """Seller name -> orchestrator URL."""
    launcher: Launcher
    market_id: str = ""
    """On every container the market's GPU workers run (MARKET_LABEL)."""

    def restart_orchestrator(self, name: str) -> None:
        """Start seller `name`'s orchestrator API again (after a test killed it), and wait
        until it is healthy."""
        self.launcher.role(
            f"orchestrator-{name}", "orchestrator", "api",
            config=self.launcher.directory / f"orchestrator-{name}.json",
            health=f"{self.urls[name]}/healthz",
        )  # fmt: skip
        self.launcher.wait()

    def stop(self) -> None:
        self.launcher.stop_all()
        if self.market_id:
            runtime = DockerRuntime()
            for container in runtime.list_containers({MARKET_LABEL: self.market_id}):
                runtime.stop(container.container_id)


def bring_up_market(
    directory: Path, sellers: list[Seller], console: Console, **gateway: object
) -> RunningMarket:
    """Start everything in `directory`; extra keyword arguments are GatewaySettings fields."""
    (directory / "logs").mkdir(parents=True, exist_ok=True)
    launcher = Launcher(directory, console)
    market_id = secrets.token_hex(4)
    try:
        return _bring_up(directory, sellers, console, launcher, market_id, gateway)
    except BaseException:
        RunningMarket("", "", {}, launcher, market_id).stop()
        raise


@contextmanager
def market_running(
    directory: Path, sellers: list[Seller], **gateway: object
) -> Iterator[RunningMarket]:
    """`bring_up_market` for a test: stopped whatever happens."""
    running = bring_up_market(directory, sellers, Console(stderr=True), **gateway)
    try:
        yield running
    finally:
        running.stop()


def _bring_up(
    directory: Path,
    sellers: list[Seller],
    console: Console,
    launcher: Launcher,
    market_id: str,
    gateway: dict[str, object],
) -> RunningMarket:
    ports = Ports.free()
    rpc = start_temporal_and_chain(launcher, directory, ports, ROUND_LENGTH - 10)
    deployer = dev_account_key(0)
    contracts = deploy_devnet(rpc, deployer, round_length=ROUND_LENGTH)
    gateway_key = role_key(directory, "gateway")
    create_keystore(gateway_key)
    urls = {s.name: f"http://127.0.0.1:{free_port()}" for s in sellers}
    keys = {s.name: role_key(directory, f"orchestrator-{s.name}") for s in sellers}
    for key in keys.values():
        create_keystore(key)
    asyncio.run(
        fund_market(
            rpc,
            contracts,
            deployer,
            gateway_key,
            [(keys[s.name], urls[s.name], STAKE) for s in sellers],
        )
    )
    Web3(Web3.HTTPProvider(rpc)).provider.make_request(RPCEndpoint("evm_setIntervalMining"), [1])
    chain = ChainSettings(
        rpc_url=rpc, ticket_broker=contracts.ticket_broker, rounds_manager=contracts.rounds_manager
    )
    temporal = f"127.0.0.1:{ports.temporal}"
    secret = secrets.token_urlsafe(24)
    workers: dict[str, str] = {}
    stream_workers: dict[str, str] = {}
    gpu_workers: dict[str, GpuWorkerSettings] = {}
    for seller in sellers:
        if seller.dead:
            continue
        face_value = seller.price_wei_per_second * 60
        settings = OrchestratorSettings(
            port=int(urls[seller.name].rsplit(":", 1)[1]),
            service_addr=urls[seller.name],
            secret=secret,
            data_dir=directory / f"orchestrator-{seller.name}",
            key=keys[seller.name],
            chain=chain,
            temporal_address=temporal,
            ticket_ev_wei=face_value,
            ticket_face_value_wei=face_value,
            params_expiration_blocks=10,
            region=seller.name,
            task_queue=f"tollway-orchestrator-{seller.name}",
            worker_metrics_port=free_port(),
            initialize_rounds=False,
        )
        config = _write(directory / f"orchestrator-{seller.name}.json", settings.model_dump_json())
        launcher.role(
            f"orchestrator-{seller.name}", "orchestrator", "api",
            config=config, health=f"{urls[seller.name]}/healthz",
        )  # fmt: skip
        launcher.role(
            f"orchestrator-worker-{seller.name}", "orchestrator", "worker",
            config=config, health=f"http://127.0.0.1:{settings.worker_metrics_port}/metrics",
        )  # fmt: skip
        worker_port = free_port()
        workers[seller.name] = f"http://127.0.0.1:{worker_port}"
        launcher.spawn(
            f"worker-{seller.name}",
            [
                sys.executable, str(WORKER), "--port", str(worker_port),
                "--delay-ms", str(seller.delay_ms), "--fail-every", str(seller.fail_every),
            ],
            lambda port=worker_port: processes.port_open(port),  # type: ignore[misc]
        )  # fmt: skip
        if seller.live:
            gpu = GpuWorkerSettings(
                worker_id=f"gpu-{seller.name}",
                temporal_address=temporal,
                stack_id=market_id,
                metrics_port=free_port(),
                orchestrator_url=urls[seller.name],
                orchestrator_secret=secret,
                data_dir=directory / f"gpu-worker-{seller.name}",
            )
            gpu_workers[seller.name] = gpu
            launcher.role(
                f"gpu-worker-{seller.name}", "gpu-worker",
                config=_write(directory / f"gpu-worker-{seller.name}.json", gpu.model_dump_json()),
                health=f"http://127.0.0.1:{gpu.metrics_port}/metrics",
            )  # fmt: skip
        if seller.streams:
            stream_port = free_port()
            stream_workers[seller.name] = f"http://127.0.0.1:{stream_port}"
            launcher.spawn(
                f"stream-worker-{seller.name}",
                [sys.executable, str(STREAM_WORKER), "--port", str(stream_port)],
                lambda port=stream_port: processes.port_open(port),  # type: ignore[misc]
            )

    api_key = "tw_" + secrets.token_urlsafe(24)
    top_price = max(s.price_wei_per_second for s in sellers)
    gateway_settings = GatewaySettings.model_validate(
        {
            "port": ports.gateway,
            "data_dir": directory / "gateway",
            "key": gateway_key,
            "discover_from_chain": True,
            "chain": chain,
            "temporal_address": temporal,
            "api_key_sha256": [hashlib.sha256(api_key.encode()).hexdigest()],
            "worker_metrics_port": ports.gateway_worker_metrics,
            "max_ticket_ev_wei": top_price * 60,
            "max_total_ev_wei": 1000 * top_price * 60,
            **gateway,
        }
    )
    gateway_url = f"http://127.0.0.1:{ports.gateway}"
    config = _write(directory / "gateway.json", gateway_settings.model_dump_json())
    launcher.role("gateway-api", "gateway", "api", config=config, health=f"{gateway_url}/healthz")
    launcher.role(
        "gateway-worker", "gateway", "worker",
        config=config, health=f"http://127.0.0.1:{ports.gateway_worker_metrics}/metrics",
    )  # fmt: skip
    launcher.wait()

    for seller in sellers:
        if not seller.dead:
            _register(urls[seller.name], secret, seller, workers[seller.name])
        if seller.name in stream_workers:
            _register(
                urls[seller.name], secret, seller, stream_workers[seller.name], STREAM_CAPABILITY
            )
    live = {urls[s.name] for s in sellers if not s.dead}
    processes.wait_until(
        lambda: _offered(gateway_url, "echo") >= live, "the gateway's market view", timeout=60
    )
    streaming = {urls[name] for name in stream_workers}
    processes.wait_until(
        lambda: _offered(gateway_url, STREAM_CAPABILITY) >= streaming,
        "the gateway's view of the stream sellers",
        timeout=60,
    )
    if gpu_workers:
        asyncio.run(_serve_live(temporal, market_id, gpu_workers))
        live_sellers = {urls[name] for name in gpu_workers}
        processes.wait_until(
            lambda: _offered(gateway_url, LIVE_CAPABILITY) >= live_sellers,
            "the gateway's view of the live-effect sellers",
            timeout=240,
        )
    console.print(f"  [green]✓[/] market of {len(sellers)} orchestrators, gateway {gateway_url}")
    return RunningMarket(gateway_url, api_key, urls, launcher, market_id)


async def _serve_live(temporal: str, market_id: str, gpus: dict[str, GpuWorkerSettings]) -> None:
    """Each seller's orchestrator serves one live-effect replica (declared as in
    examples/capabilities.json) on its own GPU worker; returns once each is serving."""
    declared = next(
        c
        for c in load_declarations(EXAMPLES / "capabilities.json").capabilities
        if c.name == LIVE_CAPABILITY
    )
    client = await connect(temporal, ORCHESTRATOR_NAMESPACE)
    handles = []
    for name, gpu in gpus.items():
        fleet = FleetInput(
            fleet_id=f"market-{market_id}-{name}",
            capabilities=[declared],
            labels={MARKET_LABEL: market_id},
        )
        placement = Placement(
            capability=LIVE_CAPABILITY, index=0, worker_id=gpu.worker_id, task_queue=gpu.task_queue
        )
        ((workflow_id, request),) = replica_inputs(fleet, [placement]).items()
        handles.append(
            await client.start_workflow(
                ContainerWorkflow.run,
                request,
                id=workflow_id,
                task_queue=f"tollway-orchestrator-{name}",
            )
        )
    deadline = time.monotonic() + 240
    for handle in handles:
        while (await handle.query(ContainerWorkflow.status)).state != ContainerState.SERVING:
            assert time.monotonic() < deadline, f"{handle.id} not serving in 240 s"
            await asyncio.sleep(0.5)


def _register(
    orchestrator: str, secret: str, seller: Seller, worker: str, capability: str = "echo"
) -> None:
    answer = httpx.post(
        f"{orchestrator}/capability/register",
        headers={"Authorization": secret},
        json={
            "name": capability,
            "url": worker,
            "capacity": seller.capacity,
            "price_per_unit": seller.price_wei_per_second,
        },
    )
    answer.raise_for_status()


def _offered(gateway_url: str, capability: str) -> set[str]:
    """Orchestrators the gateway's network snapshot lists as offering `capability`."""
    try:
        view = httpx.get(f"{gateway_url}/v1/marketplace", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return set()
    offers = view["capabilities"].get(capability, {}).get("offers", [])
    return {offer["orchestrator"] for offer in offers}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path
