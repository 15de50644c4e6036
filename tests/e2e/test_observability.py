"""A real Prometheus (`tollway up --observe`'s) scrapes the embedded stack: after a few jobs
every target is up, tollway's alert rules are loaded, every query of the Grafana dashboards
evaluates, and every metric a dashboard or rule names is one the stack exports (with samples
for those a few jobs produce)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from tests.e2e.stack_client import ECHO_PRICE, StackClient, wait_for
from tollway.devnet.observe import RULES, start_prometheus
from tollway.netutil import free_port

pytestmark = pytest.mark.e2e

DASHBOARDS = sorted((RULES.parents[1] / "grafana" / "dashboards").glob("*.json"))
METRIC = re.compile(r"\b((?:tollway|temporal)_[a-z0-9_]+)\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")
AFTER_A_FEW_JOBS = (
    "tollway_jobs_total",
    "tollway_tickets_sent_total",
    "tollway_tickets_received_total",
    "tollway_capability_request_seconds_bucket",
    "tollway_orchestrators_known",
    "tollway_capability_orchestrators_usable",
    "tollway_replicas",
    "temporal_local_activity_execution_latency_bucket",
    "temporal_request_total",
)


def dashboard_queries() -> list[str]:
    queries = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            queries += [target["expr"] for target in panel["targets"]]
    return queries


def rule_queries() -> list[str]:
    return re.findall(r"^\s+expr: (.+)$", RULES.read_text(), re.MULTILINE)


def api(prometheus: str, path: str, **params: str) -> Any:
    answer = httpx.get(f"{prometheus}/api/v1/{path}", params=params, timeout=30)
    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "success", (path, params, body)
    return body["data"]


@pytest.fixture(scope="module")
def prometheus(stack: StackClient) -> Any:
    url = start_prometheus(stack.state, free_port(), Console(stderr=True))
    try:
        yield url
    finally:
        stack.state.processes.pop("prometheus").stop()
        stack.state.endpoints.prometheus = None
        stack.state.save()


def test_prometheus_scrapes_the_stack(stack: StackClient, prometheus: str) -> None:
    assert len(DASHBOARDS) == 4
    for n in range(3):
        done = stack.gateway.post(
            "/v1/jobs",
            json={"capability": "echo", "input": n, "max_price_wei_per_second": ECHO_PRICE},
            headers={"Prefer": "wait=30"},
        )
        assert done.status_code == 200, done.text

    def all_up() -> bool:
        targets = api(prometheus, "targets")["activeTargets"]
        return len(targets) == 5 and all(t["health"] == "up" for t in targets)

    wait_for(all_up, "every stack process scraped", 30)
    present: set[str] = set()

    def scraped_after_the_jobs() -> bool:
        present.clear()
        present.update(api(prometheus, "label/__name__/values"))
        return all(name in present for name in AFTER_A_FEW_JOBS)

    wait_for(scraped_after_the_jobs, "the jobs' series scraped", 30)
    known = set(api(prometheus, "metadata"))  # every family a target declared, samples or not
    named = {m for q in dashboard_queries() + rule_queries() for m in METRIC.findall(q)}
    assert len(named) > 40
    missing = sorted(m for m in named if m not in present and _family(m) not in known)
    assert missing == [], f"named by a dashboard or rule, exported by no process: {missing}"

    for query in dashboard_queries() + rule_queries():
        api(prometheus, "query", query=query)  # a query Prometheus refuses fails here
    rules = [r for g in api(prometheus, "rules")["groups"] for r in g["rules"]]
    assert len(rules) == 8 and all(r["health"] == "ok" for r in rules), rules

    config = Path(stack.state.directory) / "prometheus" / "prometheus.yml"
    promtool = shutil.which("promtool")
    assert promtool is not None
    checked = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name
