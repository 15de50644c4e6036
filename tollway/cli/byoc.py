"""`tollway byoc`: check an image against the container contract; validate a declaration file."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tollway.byoc.check import CheckOptions, CheckResult, run_checks
from tollway.byoc.declaration import load_declarations
from tollway.errors import TollwayError

__all__ = ["app", "check", "validate"]

app = typer.Typer(help="BYOC containers: the contract and declarations.", no_args_is_help=True)
console = Console()


@app.command()
def check(
    image: Annotated[str, typer.Argument(help="A local image, e.g. tollway/echo:latest.")],
    port: Annotated[int, typer.Option(help="The port the container listens on.")] = 5000,
    health_path: Annotated[str, typer.Option(help="Its health route.")] = "/health",
    path: Annotated[str, typer.Option(help="The route a job is sent to.")] = "/",
    health_timeout: Annotated[float, typer.Option(help="Seconds to become healthy.")] = 30.0,
    body: Annotated[
        Path | None,
        typer.Option(help="A file sent as the job (default: a small JSON probe).", exists=True),
    ] = None,
    content_type: Annotated[
        str | None, typer.Option(help="The job's Content-Type (default: JSON, or by --body).")
    ] = None,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream", help="Check the live-stream routes instead (CONTRACT.md, Live streams)."
        ),
    ] = False,
) -> None:
    """Run IMAGE hardened, as an orchestrator would, and check it keeps the contract
    (tollway/byoc/CONTRACT.md). Exits 1 at the first check that fails."""
    from tollway.byoc.docker_runtime import DockerRuntime
    from tollway.cli.stream import quiet_pytrickle
    from tollway.cli.stream_check import run_stream_checks

    def report(result: CheckResult) -> None:
        mark = "[green]✓[/]" if result.passed else "[red]✗[/]"
        console.print(f"  {mark} {result.name:<26} {result.detail}", highlight=False)

    console.print(f"[bold]tollway byoc check[/] {image}")
    options = CheckOptions(
        image=image,
        port=port,
        health_path=health_path,
        path=path,
        health_timeout_seconds=health_timeout,
        body=body.read_bytes() if body else None,
        content_type=content_type or _content_type(body),
    )
    try:
        if stream:
            quiet_pytrickle()
        checks = run_stream_checks if stream else run_checks
        passed = asyncio.run(checks(DockerRuntime(), options, report))
    except TollwayError as exc:
        console.print(f"[red]check failed:[/] {exc.message}")
        raise typer.Exit(1) from exc
    console.print("[green]conforms[/]" if passed else "[red]does not conform[/]")
    if not passed:
        raise typer.Exit(1)


def _content_type(body: Path | None) -> str:
    if body is None:
        return "application/json"
    return mimetypes.guess_type(body.name)[0] or "application/octet-stream"


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="A capability declaration file (JSON).")],
) -> None:
    """Validate a capability declaration file; errors name the file and each field at fault."""
    try:
        declared = load_declarations(file)
    except TollwayError as exc:
        console.print(f"[red]invalid:[/] {exc.message}", highlight=False)
        raise typer.Exit(1) from exc
    for capability in declared.capabilities:
        if capability.triton:
            source = f"Triton model {capability.triton.model}"
        else:
            source = capability.image or f"build {capability.build}"
        price = capability.price
        console.print(
            f"  [green]✓[/] {capability.name}: {capability.replicas} x {capability.capacity} "
            f"slots, {source}, {price.amount}/{price.scaling} {price.currency} per {price.unit}, "
            f"{capability.warm}, network {capability.network}",
            highlight=False,
        )
