"""`tollway up`: Temporal, anvil with the devnet contracts, both roles, and the echo capability."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import httpx
from rich.console import Console
from web3 import Web3
from web3.types import RPCEndpoint

from tollway.byoc.declaration import PriceDeclaration
from tollway.byoc.replica import ServeCapabilityInput
from tollway.byoc.spec import BuildImageInput, ContainerSpec
from tollway.chain.addresses import ContractAddresses
from tollway.chain.client import ChainClient
from tollway.config import (
    ORCHESTRATOR_NAMESPACE,
    ORCHESTRATOR_TASK_QUEUE,
    ChainSettings,
    GatewaySettings,
    GpuWorkerSettings,
    KeySettings,
    OrchestratorSettings,
)
from tollway.devnet import processes
from tollway.devnet.anvil import PRUNE_HISTORY, dev_account_key
from tollway.devnet.chain_setup import activate_orchestrator
from tollway.devnet.deploy import deploy_devnet
from tollway.devnet.down import remove_containers
from tollway.devnet.state import Endpoints, ProcessRecord, StackState
from tollway.devnet.toolpaths import REPO_ROOT, anvil_binary, venv_binary
from tollway.errors import ConfigurationError
from tollway.netutil import free_port
from tollway.payments.keys import create_keystore
from tollway.store.database import open_database
from tollway.store.tenants import TenantStore
from tollway.temporal import connect
from tollway.workflows.container import ContainerWorkflow

__all__ = [
    "ETH",
    "Launcher",
    "Ports",
    "bring_up",
    "fund_market",
    "role_key",
    "start_temporal_and_chain",
]

ETH = 10**18
ECHO_PRICE_WEI_PER_SECOND = 10**13
# Blocks per round: about 11.5 days at a block a second, so rounds never roll over during a run.
DEVNET_ROUND_LENGTH = 1_000_000
# anvil's genesis block is this many blocks before round 1, so that the orchestrator, which joins
# the active set from the round after it bonds, becomes active after mining a few hundred blocks
# (well under a second) rather than a whole round (hours).
GENESIS_LEAD_BLOCKS = 300
DEVNET_ORCHESTRATOR_STAKE = 1_000 * 10**18  # LPT (wei units) bonded by the orchestrator
DEVNET_PARAMS_EXPIRATION_BLOCKS = 3


@dataclass(frozen=True)
class Ports:
    temporal: int = 7233
    temporal_ui: int = 8233
    chain: int = 8545
    orchestrator: int = 8935
    gateway: int = 9935
    orchestrator_worker_metrics: int = 8936
    gpu_worker_metrics: int = 8937
    gateway_worker_metrics: int = 9936
    # Fixed rather than left to Temporal: its random picks could take a port chosen above.
    temporal_http: int = 7243
    temporal_metrics: int = 7244

    @classmethod
    def free(cls) -> Ports:
        chosen: list[int] = []
        while len(chosen) < len(fields(cls)):
            port = free_port()
            if port not in chosen:
                chosen.append(port)
        return cls(*chosen)


class Launcher:
    """Starts processes, remembers them, and stops them all if start-up fails half-way."""

    def __init__(self, directory: Path, console: Console) -> None:
        self.directory = directory
        self.console = console
        self.records: dict[str, ProcessRecord] = {}

        self._starting: list[tuple[str, Callable[[], bool], float]] = []

    def spawn(
        self, name: str, argv: list[str], ready: Callable[[], bool], health: str | None = None
    ) -> None:
        """Start a process without waiting for it; `wait()` waits for all started so far."""
        log = self.directory / "logs" / f"{name}.log"
        pid = processes.spawn(argv, log)
        self.records[name] = ProcessRecord(
            pid=pid, started=processes.start_ticks(pid), log=str(log), health=health
        )
        self._starting.append((name, ready, time.monotonic()))

    def wait(self) -> None:
        for name, ready, started in self._starting:
            record = self.records[name]
            processes.wait_until(ready, name, timeout=90, pid=record.pid, log_path=Path(record.log))
            self.console.print(
                f"  [green]✓[/] {name:<20} pid {record.pid:<7} "
                f"ready in {time.monotonic() - started:.1f} s"
            )
        self._starting.clear()

    def role(self, name: str, *args: str, config: Path, health: str) -> None:
        argv = [sys.executable, "-m", "tollway", *args, "--config", str(config)]
        self.spawn(name, argv, lambda: processes.http_ok(health), health)

    def stop_all(self) -> None:
        for record in reversed(list(self.records.values())):
            record.stop()


def bring_up(
    directory: Path,
    ports: Ports,
    console: Console,
    extra_orchestrators: tuple[str, ...] = (),
    round_length: int = DEVNET_ROUND_LENGTH,
) -> StackState:
    """Start everything afresh in `directory`; the gateway also knows `extra_orchestrators`.
    `round_length` (blocks, one a second) is short where rounds must roll over during a run
    (bench/soak.py); round 1 must start after the genesis lead, with a lead's room to spare."""
    if round_length < 2 * GENESIS_LEAD_BLOCKS:
        raise ConfigurationError(
            f"a devnet round of {round_length} blocks is under {2 * GENESIS_LEAD_BLOCKS}"
        )
    running = StackState.load(directory)
    if running is not None and any(p.alive() for p in running.processes.values()):
        raise processes.StartupError(
            f"stack {running.stack_id} is still running in {directory}: `tollway down` first"
        )
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "logs").mkdir(parents=True)
    launcher = Launcher(directory, console)
    stack_id = secrets.token_hex(4)
    try:
        return _bring_up(
            directory, stack_id, ports, console, launcher, extra_orchestrators, round_length
        )
    except BaseException:
        console.print("[red]start-up failed; stopping what was started[/]")
        launcher.stop_all()
        remove_containers(stack_id, console)
        raise


def _bring_up(
    directory: Path,
    stack_id: str,
    ports: Ports,
    console: Console,
    launcher: Launcher,
    extra_orchestrators: tuple[str, ...],
    round_length: int,
) -> StackState:
    console.print(f"[bold]tollway up[/] (stack {stack_id}, state in {directory})")
    rpc = start_temporal_and_chain(launcher, directory, ports, round_length - GENESIS_LEAD_BLOCKS)

    deployer = dev_account_key(0)
    contracts = deploy_devnet(rpc, deployer, round_length=round_length)
    console.print(
        f"  [green]✓[/] devnet contracts      Controller {contracts.controller}, "
        f"TicketBroker {contracts.ticket_broker}, BondingManager {contracts.bonding_manager}"
    )
    gateway_key = role_key(directory, "gateway")
    orchestrator_key = role_key(directory, "orchestrator")
    gateway_address = create_keystore(gateway_key)
    orchestrator_address = create_keystore(orchestrator_key)
    orchestrator_url = f"http://127.0.0.1:{ports.orchestrator}"
    gateway_url = f"http://127.0.0.1:{ports.gateway}"
    active_round = asyncio.run(
        fund_market(
            rpc,
            contracts,
            deployer,
            gateway_key,
            [(orchestrator_key, orchestrator_url, DEVNET_ORCHESTRATOR_STAKE)],
        )
    )
    Web3(Web3.HTTPProvider(rpc)).provider.make_request(RPCEndpoint("evm_setIntervalMining"), [1])
    console.print(
        f"  [green]✓[/] accounts funded        gateway {gateway_address} "
        "(deposit 10 ETH, reserve 10 ETH), orchestrator "
        f"{orchestrator_address} (active transcoder in round {active_round}, "
        f"{DEVNET_ORCHESTRATOR_STAKE // 10**18} LPT bonded)"
    )

    secret = secrets.token_urlsafe(24)
    api_key = "tw_" + secrets.token_urlsafe(24)
    chain = ChainSettings(
        rpc_url=rpc, ticket_broker=contracts.ticket_broker, rounds_manager=contracts.rounds_manager
    )
    temporal = f"127.0.0.1:{ports.temporal}"
    temporal_ui = f"http://127.0.0.1:{ports.temporal_ui}"  # the consoles link workflows here
    echo_face_value = ECHO_PRICE_WEI_PER_SECOND * 60
    configs = {
        "orchestrator": OrchestratorSettings(
            port=ports.orchestrator,
            service_addr=orchestrator_url,
            secret=secret,
            data_dir=directory / "orchestrator",
            key=orchestrator_key,
            chain=chain,
            temporal_address=temporal,
            # Devnet: face value == EV, so every ticket wins and the demo shows a redemption.
            ticket_ev_wei=echo_face_value,
            ticket_face_value_wei=echo_face_value,
            params_expiration_blocks=DEVNET_PARAMS_EXPIRATION_BLOCKS,
            worker_metrics_port=ports.orchestrator_worker_metrics,
            temporal_ui_url=temporal_ui,
        ),
        "gateway": GatewaySettings(
            port=ports.gateway,
            data_dir=directory / "gateway",
            key=gateway_key,
            orchestrators=[orchestrator_url, *extra_orchestrators],
            discover_from_chain=True,
            chain=chain,
            temporal_address=temporal,
            api_key_sha256=[hashlib.sha256(api_key.encode()).hexdigest()],
            worker_metrics_port=ports.gateway_worker_metrics,
            # Devnet tickets always win (face value == EV), so their EV is large.
            max_ticket_ev_wei=echo_face_value,
            max_total_ev_wei=100 * echo_face_value,
            temporal_ui_url=temporal_ui,
        ),
        "gpu": GpuWorkerSettings(
            worker_id="gpu-0",
            temporal_address=temporal,
            stack_id=stack_id,
            metrics_port=ports.gpu_worker_metrics,
            orchestrator_url=orchestrator_url,
            orchestrator_secret=secret,
            data_dir=directory / "gpu-worker",
        ),
    }
    paths = {}
    for name, settings in configs.items():
        paths[name] = directory / f"{name}.json"
        paths[name].write_text(settings.model_dump_json(indent=2))
        paths[name].chmod(0o600)
    gateway_settings = configs["gateway"]
    assert isinstance(gateway_settings, GatewaySettings)
    admin_key = asyncio.run(_operator_key(gateway_settings.database))

    launcher.role(
        "orchestrator-api", "orchestrator", "api",
        config=paths["orchestrator"], health=f"{orchestrator_url}/healthz",
    )  # fmt: skip

    def metrics(port: int) -> str:
        return f"http://127.0.0.1:{port}/metrics"

    launcher.role(
        "orchestrator-worker", "orchestrator", "worker",
        config=paths["orchestrator"], health=metrics(ports.orchestrator_worker_metrics),
    )  # fmt: skip
    launcher.role(
        "gpu-worker", "gpu-worker", config=paths["gpu"], health=metrics(ports.gpu_worker_metrics)
    )
    launcher.role(
        "gateway-api", "gateway", "api", config=paths["gateway"], health=f"{gateway_url}/healthz"
    )
    launcher.role(
        "gateway-worker", "gateway", "worker",
        config=paths["gateway"], health=metrics(ports.gateway_worker_metrics),
    )  # fmt: skip
    launcher.wait()

    gpu = configs["gpu"]
    assert isinstance(gpu, GpuWorkerSettings)
    echo_workflow = asyncio.run(_serve_echo(temporal, gpu, stack_id, orchestrator_url, console))
    state = StackState(
        stack_id=stack_id,
        directory=str(directory),
        endpoints=Endpoints(
            gateway_api=gateway_url,
            orchestrator_api=orchestrator_url,
            temporal_address=temporal,
            temporal_ui=temporal_ui,
            chain_rpc=rpc,
            gateway_metrics=f"{gateway_url}/metrics",
            orchestrator_metrics=f"{orchestrator_url}/metrics",
            gateway_worker_metrics=metrics(ports.gateway_worker_metrics),
            orchestrator_worker_metrics=metrics(ports.orchestrator_worker_metrics),
            gpu_worker_metrics=metrics(ports.gpu_worker_metrics),
        ),
        contracts=contracts.model_dump(),
        gateway_address=gateway_address,
        orchestrator_address=orchestrator_address,
        orchestrator_secret=secret,
        gateway_keystore=str(gateway_key.keystore),
        api_key=api_key,
        admin_key=admin_key,
        capabilities={"echo": echo_workflow},
        processes=launcher.records,
    )
    state.save()
    return state


def role_key(directory: Path, role: str) -> KeySettings:
    """Where a role's keystore and its password file live in a stack directory."""
    return KeySettings(
        keystore=directory / role / "keystore.json",
        password_file=directory / role / "keystore.password",
    )


def start_temporal_and_chain(
    launcher: Launcher, directory: Path, ports: Ports, genesis_block: int
) -> str:
    """Start the Temporal dev server (both namespaces) and anvil; returns the chain's RPC URL."""
    launcher.spawn(
        "temporal",
        [
            venv_binary("temporal"), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(ports.temporal),
            "--ui-ip", "127.0.0.1", "--ui-port", str(ports.temporal_ui),
            "--http-port", str(ports.temporal_http), "--metrics-port", str(ports.temporal_metrics),
            "--db-filename", str(directory / "temporal.db"),
            # A write-ahead log, synced at checkpoints: a killed server loses nothing, and no
            # workflow step waits on an fsync (4 to 5 ms a job on this machine).
            "--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=NORMAL",
            "--namespace", "gateway", "--namespace", ORCHESTRATOR_NAMESPACE,
            "--log-level", "warn",
        ],
        lambda: processes.port_open(ports.temporal) and processes.port_open(ports.temporal_ui),
    )  # fmt: skip
    # anvil automines while we deploy and fund, then produces a block every second.
    launcher.spawn(
        "anvil",
        [
            anvil_binary(), "--host", "127.0.0.1", "--port", str(ports.chain),
            "--chain-id", "1337", "--number", str(genesis_block), *PRUNE_HISTORY,
            # Dumped on SIGTERM: the chain can be stopped and restarted where it was.
            "--dump-state", str(directory / "chain-state.json"),
        ],
        lambda: processes.port_open(ports.chain),
    )  # fmt: skip
    launcher.wait()
    return f"http://127.0.0.1:{ports.chain}"


async def fund_market(
    rpc: str,
    contracts: ContractAddresses,
    deployer: bytes,
    gateway_key: KeySettings,
    orchestrators: list[tuple[KeySettings, str, int]],
) -> int:
    """Fund the gateway (100 ETH, a 10 ETH deposit and a 10 ETH reserve) and each orchestrator
    (key, service URI, LPT stake): 100 ETH, then bonded and active. Winning tickets credit fees
    only to registered transcoders, and only active ones share a sender's reserve. Returns the
    round from which they are active."""
    from tollway.payments.keys import load_key

    gateway, gateway_address = load_key(gateway_key)
    async with ChainClient(rpc, contracts) as chain:
        await chain.transfer(deployer, gateway_address, 100 * ETH)
        await chain.broker.fund_deposit_and_reserve(gateway, 10 * ETH, 10 * ETH)
        for key_settings, service_uri, stake in orchestrators:
            key, address = load_key(key_settings)
            await chain.transfer(deployer, address, 100 * ETH)
            await activate_orchestrator(chain, deployer, key, stake=stake, service_uri=service_uri)
        return await chain.rounds.current_round()


async def _serve_echo(
    temporal: str, gpu: GpuWorkerSettings, stack_id: str, orchestrator_url: str, console: Console
) -> str:
    client = await connect(temporal, ORCHESTRATOR_NAMESPACE)
    workflow_id = f"container-echo-{stack_id}"
    request = ServeCapabilityInput(
        spec=ContainerSpec(
            capability="echo",
            image="tollway/echo:latest",
            labels={"tollway.stack": stack_id},
        ),
        build=BuildImageInput(
            context_dir=str(REPO_ROOT / "examples" / "echo"), tag="tollway/echo:latest"
        ),
        gpu_task_queue=gpu.task_queue,
        capacity=4,
        price=PriceDeclaration(amount=ECHO_PRICE_WEI_PER_SECOND),
        description="stdlib echo container (examples/echo)",
    )
    started = time.monotonic()
    handle = await client.start_workflow(
        ContainerWorkflow.run, request, id=workflow_id, task_queue=ORCHESTRATOR_TASK_QUEUE
    )
    async with httpx.AsyncClient() as http:
        while time.monotonic() - started < 180:
            answer = await http.get(f"{orchestrator_url}/v1/capabilities")
            if any(c["name"] == "echo" for c in answer.json()["capabilities"]):
                console.print(
                    f"  [green]✓[/] capability echo        built, started, healthy and registered "
                    f"in {time.monotonic() - started:.1f} s ({ECHO_PRICE_WEI_PER_SECOND} wei/s)"
                )
                return workflow_id
            description = await handle.describe()
            if description.status is not None and description.status.name != "RUNNING":
                await handle.result()  # raises the workflow's failure
            await asyncio.sleep(0.2)
    status = (await handle.query(ContainerWorkflow.status)).model_dump_json()
    raise processes.StartupError(f"capability echo not registered after 180 s: {status}")


async def _operator_key(database_url: str) -> str:
    """The stack's operator key (scope `admin`), made on the gateway's fresh database."""
    database = open_database(database_url)
    try:
        tenants = TenantStore(database)
        await tenants.ensure_tenant("default")
        made = await tenants.create_key("default", "operator", ["admin"])
    finally:
        await database.close()
    return made.secret
