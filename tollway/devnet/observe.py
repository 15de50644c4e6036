"""`tollway up --observe`: Prometheus (Debian's package) scraping every process of the embedded
stack, with tollway's alert rules (deploy/prometheus/alerts.yml), on 127.0.0.1. It is one more
process of the stack, so `tollway down` stops it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console

from tollway.devnet import processes
from tollway.devnet.state import ProcessRecord, StackState

__all__ = ["RULES", "prometheus_config", "start_prometheus"]

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
"""The alert rules, from the checkout (the embedded stack runs from one)."""
SCRAPE_SECONDS = 5


def prometheus_config(state: StackState, rules: Path) -> dict[str, object]:
    """A scrape job per stack process (named as in deploy/compose.yaml), every 5 s."""
    endpoints = state.endpoints
    targets = {
        "gateway-api": endpoints.gateway_metrics,
        "gateway-worker": endpoints.gateway_worker_metrics,
        "orchestrator-api": endpoints.orchestrator_metrics,
        "orchestrator-worker": endpoints.orchestrator_worker_metrics,
        "gpu-worker": endpoints.gpu_worker_metrics,
    }
    jobs = []
    for job, url in targets.items():
        parts = urlsplit(url)
        jobs.append(
            {
                "job_name": job,
                "metrics_path": parts.path or "/metrics",
                "static_configs": [{"targets": [parts.netloc]}],
            }
        )
    return {
        "global": {
            "scrape_interval": f"{SCRAPE_SECONDS}s",
            "evaluation_interval": f"{SCRAPE_SECONDS}s",
        },
        "rule_files": [str(rules)],
        "scrape_configs": jobs,
    }


def start_prometheus(state: StackState, port: int, console: Console) -> str:
    """Start Prometheus for the stack; its URL. It is recorded in the stack's state."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise processes.StartupError(
            "prometheus is not installed: `bash scripts/setup.sh` installs Debian's package"
        )
    if not RULES.exists():
        raise processes.StartupError(f"the alert rules are not at {RULES}: run from a checkout")
    directory = Path(state.directory) / "prometheus"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    # JSON is YAML: Prometheus reads it as its config.
    config.write_text(json.dumps(prometheus_config(state, RULES), indent=2))
    log = Path(state.directory) / "logs" / "prometheus.log"
    url = f"http://127.0.0.1:{port}"
    pid = processes.spawn(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        log,
    )
    state.processes["prometheus"] = ProcessRecord(
        pid=pid, started=processes.start_ticks(pid), log=str(log), health=f"{url}/-/ready"
    )
    state.endpoints.prometheus = url
    state.save()
    processes.wait_until(
        lambda: processes.http_ok(f"{url}/-/ready"), "prometheus", timeout=60, pid=pid
    )
    console.print(f"  [green]✓[/] prometheus           {url} (alerts: {RULES.name})")
    return url
