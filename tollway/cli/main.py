"""The `tollway` command: the embedded stack (up, down, status, demo) and each role on its own."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer
from rich.console import Console

from tollway.cli.lazy import LazyGroup

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "Commands",
    "ConfigFile",
    "StackDir",
    "app",
    "demo",
    "down",
    "gateway_api",
    "gateway_app",
    "gateway_worker",
    "gpu_worker",
    "orchestrator_api",
    "orchestrator_app",
    "orchestrator_worker",
    "serve",
    "status",
    "stream",
    "up",
]


class Commands(LazyGroup):
    """`tollway`'s commands. The tool groups are imported when used: each needs what the others
    do not (web3, SQLAlchemy, Docker), and `tollway jobs get` should not wait for them."""

    lazy: ClassVar[Mapping[str, str]] = {
        "chain": "tollway.cli.chain:app",
        "byoc": "tollway.cli.byoc:app",
        "tenants": "tollway.cli.tenants:tenants_app",
        "keys": "tollway.cli.tenants:keys_app",
        "jobs": "tollway.cli.jobs:app",
    }


app = typer.Typer(
    cls=Commands,
    help="tollway: BYOC GPU jobs on a Livepeer-style marketplace.",
    no_args_is_help=True,
)
gateway_app = typer.Typer(help="Run the gateway's processes.", no_args_is_help=True)
orchestrator_app = typer.Typer(help="Run the orchestrator's processes.", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")
app.add_typer(orchestrator_app, name="orchestrator")

console = Console()
MAX_HEAD = 256 * 1024
StackDir = Annotated[
    Path | None,
    typer.Option(
        "--dir", help="Stack state, configs and logs [default: $TOLLWAY_HOME or .tollway]"
    ),
]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="JSON settings file.")]


def _stack_dir(directory: Path | None) -> Path:
    return (directory or Path(os.environ.get("TOLLWAY_HOME", ".tollway"))).resolve()


def _serve(app: FastAPI, host: str, port: int) -> None:
    import uvicorn

    # A 600-ticket Livepeer-Payment header is about 58 KB; h11's default allows 16 KB.
    uvicorn.run(
        app, host=host, port=port, log_level="warning", h11_max_incomplete_event_size=MAX_HEAD
    )


def _temporal_metrics() -> None:
    """The Temporal SDK's metrics on this role process's Prometheus endpoint."""
    from tollway.temporal_metrics import use_temporal_metrics

    use_temporal_metrics()


def _role_process() -> None:
    """A role's process: the SDK's metrics exported, logs at INFO."""
    _temporal_metrics()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise


@app.command()
def up(
    directory: StackDir = None,
    free_ports: Annotated[bool, typer.Option(help="Pick free ports instead of defaults.")] = False,
    orchestrator: Annotated[
        list[str] | None,
        typer.Option(help="Another orchestrator URL for the gateway to discover (repeatable)."),
    ] = None,
    observe: Annotated[
        bool,
        typer.Option(help="Also run Prometheus (with tollway's alert rules) scraping the stack."),
    ] = False,
    prometheus_port: Annotated[int, typer.Option(help="Prometheus's port with --observe.")] = 9090,
) -> None:
    """Start the embedded stack and print where everything listens."""
    from tollway.devnet.observe import start_prometheus
    from tollway.devnet.processes import StartupError
    from tollway.devnet.state import StackState
    from tollway.devnet.up import Ports, bring_up
    from tollway.netutil import free_port

    directory = _stack_dir(directory)
    ports = Ports.free() if free_ports else Ports()
    try:
        state = bring_up(directory, ports, console, tuple(orchestrator or ()))
        if observe:
            start_prometheus(state, free_port() if free_ports else prometheus_port, console)
    except StartupError as exc:
        console.print(f"[red]tollway up failed:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print_json(state.model_dump_json())
    console.print(f"state written to {StackState.path(directory)}")


@app.command()
def down(directory: StackDir = None) -> None:
    """Stop the processes and containers that `tollway up` started."""
    from tollway.devnet.down import bring_down

    bring_down(_stack_dir(directory), console)


@app.command()
def status(directory: StackDir = None) -> None:
    """Print the stack's state file and check that each part is alive."""
    from tollway.devnet.status import show

    if not show(_stack_dir(directory), console):
        raise typer.Exit(1)


@app.command()
def demo(directory: StackDir = None) -> None:
    """Run one paid BYOC job end to end (starting the stack if needed)."""
    from tollway.devnet.demo import DemoFailed, run_demo

    try:
        run_demo(_stack_dir(directory), console)
    except DemoFailed as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        raise typer.Exit(1) from exc


@app.command()
def serve(
    file: Annotated[Path, typer.Argument(help="A capability declaration file (JSON).")],
    directory: StackDir = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for every replica.")] = 300.0,
) -> None:
    """Serve the capabilities declared in FILE on the running stack: place each replica on a
    GPU worker, start it, and register it once healthy. Applying another file replaces it:
    replicas no longer declared are drained and stopped."""
    from tollway.cli.serve import serve_file
    from tollway.devnet.state import StackState
    from tollway.errors import TollwayError

    state = StackState.load(_stack_dir(directory))
    if state is None:
        console.print("[red]no stack is running:[/] start one with `tollway up`")
        raise typer.Exit(1)
    try:
        asyncio.run(serve_file(state, file, console, wait))
    except TollwayError as exc:
        console.print(f"[red]not served:[/] {exc.message}", highlight=False)
        raise typer.Exit(1) from exc


@app.command()
def stream(
    capability: Annotated[str, typer.Argument(help="A stream capability, e.g. live-effect.")],
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input", help="A video file to stream (default: a test pattern).", exists=True
        ),
    ] = None,
    output: Annotated[Path, typer.Option(help="Where the output (MPEG-TS) goes.")] = Path(
        "stream-output.ts"
    ),
    seconds: Annotated[float, typer.Option(help="How long the test pattern runs.")] = 30.0,
    width: Annotated[int, typer.Option(help="Test pattern width.")] = 256,
    height: Annotated[int, typer.Option(help="Test pattern height.")] = 256,
    fps: Annotated[int, typer.Option(help="Test pattern frames per second.")] = 30,
    params: Annotated[str, typer.Option(help="The pipeline's parameters, a JSON object.")] = "{}",
    gateway: Annotated[
        str | None, typer.Option(help="The gateway's URL (default: the running stack's).")
    ] = None,
    directory: StackDir = None,
) -> None:
    """Stream a video file, or a generated test pattern, through the gateway to CAPABILITY and
    write what comes back to a file, with a live progress line."""
    import json

    from tollway.cli.stream import StreamOptions, quiet_pytrickle, run_stream
    from tollway.devnet.state import StackState
    from tollway.errors import TollwayError

    try:
        extra = json.loads(params)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--params") from exc
    if not isinstance(extra, dict):
        raise typer.BadParameter("a JSON object, please", param_hint="--params")
    if gateway is None:
        state = StackState.load(_stack_dir(directory))
        if state is None:
            console.print(
                "[red]no stack is running:[/] start one with `tollway up`, or give --gateway"
            )
            raise typer.Exit(1)
        gateway = state.endpoints.gateway_api
    quiet_pytrickle()
    options = StreamOptions(
        gateway=gateway,
        capability=capability,
        output=output,
        input=input_file,
        seconds=seconds,
        width=width,
        height=height,
        fps=fps,
        params=extra,
    )
    try:
        report = asyncio.run(run_stream(options, console))
    except TollwayError as exc:
        console.print(f"[red]stream failed:[/] {exc.message}", highlight=False)
        raise typer.Exit(1) from exc
    console.print(
        f"stream {report.stream_id} {report.state}: {report.segments_in} segments in, "
        f"{report.segments_out} out ({report.frames_out} frames) written to {output}"
    )


@gateway_app.command("api")
def gateway_api(config: ConfigFile = None) -> None:
    """The gateway's HTTP API (uvicorn, 127.0.0.1 by default), hosting a job worker."""
    from tollway.api.gateway.app import create_app
    from tollway.config import GatewaySettings, load_settings
    from tollway.workers import gateway

    _temporal_metrics()
    settings = load_settings(GatewaySettings, config)
    hosted = partial(gateway.job_worker, settings) if settings.api_hosts_worker else None
    _serve(create_app(settings, hosted), settings.host, settings.port)


@gateway_app.command("worker")
def gateway_worker(config: ConfigFile = None) -> None:
    """The gateway's Temporal worker (job workflows and their activities)."""
    from tollway.config import GatewaySettings, load_settings
    from tollway.workers import gateway

    _role_process()
    asyncio.run(gateway.run(load_settings(GatewaySettings, config)))


@orchestrator_app.command("api")
def orchestrator_api(config: ConfigFile = None) -> None:
    """The orchestrator's Livepeer-compatible HTTP API."""
    from tollway.api.orchestrator.app import create_app
    from tollway.config import OrchestratorSettings, load_settings

    _role_process()
    settings = load_settings(OrchestratorSettings, config)
    _serve(create_app(settings), settings.host, settings.port)


@orchestrator_app.command("worker")
def orchestrator_worker(config: ConfigFile = None) -> None:
    """The orchestrator's Temporal worker (redemption and container workflows)."""
    from tollway.config import OrchestratorSettings, load_settings
    from tollway.workers import orchestrator

    _role_process()
    asyncio.run(orchestrator.run(load_settings(OrchestratorSettings, config)))


@app.command("gpu-worker")
def gpu_worker(config: ConfigFile = None) -> None:
    """A GPU worker: runs BYOC containers through Docker on its own task queue."""
    from tollway.config import GpuWorkerSettings, load_settings
    from tollway.workers import gpu

    _role_process()
    asyncio.run(gpu.run(load_settings(GpuWorkerSettings, config)))
