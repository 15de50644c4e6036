"""`import tollway.client` and `tollway jobs` stay light: a program that only calls the gateway's
API loads httpx, pydantic and the shared models, not the server's stack, and the command line
imports a group of commands only when it runs one. The checks run in a fresh interpreter, since
this test process has imported everything already."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tollway.cli import app

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "sqlalchemy", "alembic", "web3", "eth_account", "temporalio", "torch", "docker")


def heavy_modules_after(code: str) -> list[str]:
    """The heavy modules in sys.modules once `code` ran in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(*(m for m in {HEAVY!r} if m in sys.modules))"
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,  # `-c` imports from the working directory: this checkout's tollway
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.split()


def test_the_client_imports_none_of_the_server() -> None:
    assert heavy_modules_after("import tollway.client") == []


def test_the_jobs_commands_import_none_of_the_server() -> None:
    code = (
        "from typer.testing import CliRunner\nfrom tollway.cli import app\n"
        "assert CliRunner().invoke(app, ['jobs', '--help']).exit_code == 0"
    )
    assert heavy_modules_after(code) == []


def test_the_help_still_names_every_group() -> None:
    shown = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    for group in ("gateway", "orchestrator", "chain", "byoc", "tenants", "keys", "jobs"):
        assert f" {group} " in shown.output, group
    assert "TicketBroker funds" in shown.output  # a lazy group's own help line


def test_a_gateway_out_of_reach_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as closed:  # a port nothing listens on: bound, never listening
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        shown = CliRunner().invoke(app, ["jobs", "get", "j1", "--url", url, "--key", "k"])
    assert shown.exit_code == 1, shown.output
    assert f"could not reach {url}/v1/jobs/j1" in " ".join(shown.output.split())
    assert "Traceback" not in shown.output
