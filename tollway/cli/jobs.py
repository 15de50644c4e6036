"""`tollway jobs`: submit, read, list, watch and fetch jobs through the gateway's API, with
`tollway.client`. The gateway and key come from `--url`/`--key`, `TOLLWAY_URL`/`TOLLWAY_API_KEY`,
or the embedded stack's state file."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.table import Table

from tollway.client import Client
from tollway.errors import TollwayError
from tollway.schemas.jobs import JobView

__all__ = ["app"]

app = typer.Typer(help="Jobs through the gateway's API.", no_args_is_help=True)
console = Console(stderr=True)
T = TypeVar("T")

Url = Annotated[str | None, typer.Option("--url", help="The gateway [env TOLLWAY_URL].")]
Key = Annotated[str | None, typer.Option("--key", help="An API key [env TOLLWAY_API_KEY].")]
StackDir = Annotated[
    Path | None, typer.Option("--dir", help="The stack's folder, for its gateway and key.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def _client(url: str | None, key: str | None, directory: Path | None) -> Iterator[Client]:
    url = url or os.environ.get("TOLLWAY_URL")
    key = key or os.environ.get("TOLLWAY_API_KEY")
    if url is None or key is None:
        state_file = (directory or Path(os.environ.get("TOLLWAY_HOME", ".tollway"))) / "stack.json"
        if not state_file.exists():
            raise typer.BadParameter(
                f"give --url and --key (or TOLLWAY_URL and TOLLWAY_API_KEY): no {state_file}"
            )
        state = json.loads(state_file.read_text())
        url = url or state["endpoints"]["gateway_api"]
        key = key or state["api_key"]
    with Client(url, key) as client:
        yield client


def _call(work: Callable[[], T]) -> T:
    try:
        return work()
    except TollwayError as exc:
        code = exc.details.get("code", type(exc).__name__)
        console.print(f"[red]error:[/] {code}: {exc.message}")
        raise typer.Exit(1) from exc
    except httpx.TransportError as exc:
        console.print(
            f"[red]error:[/] could not reach {exc.request.url}: {exc or type(exc).__name__}"
        )
        raise typer.Exit(1) from exc


@app.command()
def submit(
    capability: str,
    input: Annotated[str | None, typer.Option(help="The input, as JSON.")] = None,
    input_file: Annotated[
        Path | None, typer.Option(help="Send this file's bytes instead.", exists=True)
    ] = None,
    content_type: Annotated[str | None, typer.Option(help="With --input-file.")] = None,
    path: Annotated[str, typer.Option(help="The container's route.")] = "",
    timeout: Annotated[int, typer.Option(help="The job's timeout in seconds.")] = 60,
    max_price: Annotated[
        int | None, typer.Option(help="Most it may pay, in wei per second.")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Names this request.")] = None,
    wait: Annotated[
        int | None, typer.Option(help="Wait up to this many seconds (1-60) for it to end.")
    ] = None,
    url: Url = None,
    key: Key = None,
    directory: StackDir = None,
    as_json: AsJson = False,
) -> None:
    """Start a job; print its id (with --wait, the job as it ended or stands)."""
    try:
        value = json.loads(input) if input is not None else None
    except ValueError as exc:
        raise typer.BadParameter(f"--input is not JSON: {exc}") from exc
    with _client(url, key, directory) as client:
        accepted = _call(
            lambda: client.submit(
                capability,
                value,
                input_bytes=input_file.read_bytes() if input_file else None,
                content_type=content_type,
                idempotency_key=idempotency_key,
                wait=wait,
                path=path or None,
                timeout_seconds=timeout,
                max_price_wei_per_second=max_price,
            )
        )
    if as_json:
        print(accepted.model_dump_json(indent=2))
    elif accepted.job is not None:
        _print_job(accepted.job.model_dump(mode="json"))
    else:
        print(accepted.job_id)


@app.command()
def get(
    job_id: str,
    url: Url = None,
    key: Key = None,
    directory: StackDir = None,
    as_json: AsJson = False,
) -> None:
    """A job's status."""
    with _client(url, key, directory) as client:
        _show(_call(lambda: client.get(job_id)), as_json)


@app.command("list")
def list_jobs(
    status: Annotated[list[str] | None, typer.Option(help="Repeat: only these states.")] = None,
    capability: Annotated[str | None, typer.Option(help="Only this capability.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    url: Url = None,
    key: Key = None,
    directory: StackDir = None,
    as_json: AsJson = False,
) -> None:
    """The tenant's jobs, newest first."""
    with _client(url, key, directory) as client:
        page = _call(lambda: client.page(status, capability, min(limit, 100)))
    if as_json:
        print(page.model_dump_json(indent=2))
        return
    table = Table("job", "capability", "state", "created", "cost (wei)")
    for record in page.data:
        table.add_row(
            record.id,
            record.capability,
            record.state,
            record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "" if record.cost_wei is None else str(record.cost_wei),
        )
    Console().print(table)


@app.command()
def watch(job_id: str, url: Url = None, key: Key = None, directory: StackDir = None) -> None:
    """Follow a job's events as they happen until it ends; exits 1 unless it succeeded."""
    with _client(url, key, directory) as client:
        with console.status(f"{job_id}: waiting for events", spinner="dots") as shown:

            def follow() -> str:
                last = "running"
                for event in client.events(job_id):
                    when = event.created_at.strftime("%H:%M:%S.%f")[:-3]
                    detail = ", ".join(f"{k}={v}" for k, v in event.data.items() if v is not None)
                    console.print(f"{when}  {event.type:<14} {detail}")
                    shown.update(f"{job_id}: {event.type}")
                    last = event.type.removeprefix("job.")
                return last

            final = _call(follow)
    if final != "succeeded":
        raise typer.Exit(1)


@app.command()
def cancel(
    job_id: str,
    url: Url = None,
    key: Key = None,
    directory: StackDir = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a job: stopped where it runs, billed for the time it ran."""
    with _client(url, key, directory) as client:
        _show(_call(lambda: client.cancel(job_id)), as_json)


@app.command()
def output(
    job_id: str,
    out: Annotated[Path | None, typer.Option("--out", help="Write it here, not to stdout.")] = None,
    url: Url = None,
    key: Key = None,
    directory: StackDir = None,
) -> None:
    """A finished job's output, as the container gave it."""
    with _client(url, key, directory) as client:
        data = _call(lambda: client.output(job_id))
    if out is not None:
        out.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


def _show(job: JobView, as_json: bool) -> None:
    if as_json:
        print(job.model_dump_json(indent=2))
    else:
        _print_job(job.model_dump(mode="json"))


def _print_job(job: dict[str, Any]) -> None:
    shown = {
        k: job.get(k)
        for k in ("job_id", "capability", "state", "orchestrator", "cost_wei", "error")
        if job.get(k) is not None
    }
    for name, value in shown.items():
        print(f"{name:<13} {value}")
