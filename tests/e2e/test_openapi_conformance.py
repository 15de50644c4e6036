"""Schemathesis fuzzes both live APIs of the stack against the OpenAPI documents they serve, over
real HTTP, with bounded examples (valid and invalid data): no answer may be a server error
(500), nor carry a status, media type, required header or body the document does not declare. The
gateway's 502, 503 and 504 are upstream conditions it declares (no orchestrator, all failed,
deadline), not its own faults: they pass `not_a_server_error` only where documented.

The stack is shared with the other e2e tests, so the fuzzer works as a tenant of its own
(`openapi`, every scope but `admin`), reuses no value it read from an answer (that is how it
would find the other tests' keys, tenants and capabilities), and leaves out only:
- `DELETE /v1/keys/{key_id}` and `POST /v1/keys/{key_id}/rotate`: revoking or rotating its
  own key would answer every later case 401 and test nothing;
- the orchestrator's `POST /v1/workers`: a fake GPU worker would take part in placement, and
  replicas placed on it would never start (nothing removes a reported worker but silence).
Whatever capability the fuzzer registers on the orchestrator is unregistered after it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack_client import StackClient
from tollway.protocol.header import encode_eth_address_header

pytestmark = pytest.mark.e2e

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES = 20
"""Cases per operation (valid and invalid): about 15 s for the gateway's 38 operations, 2 cores."""
SEED = 20261201
"""Fixed, so a failure reproduces; another seed explores other cases."""
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
TENANT = "openapi"
SPARE_TENANT = "openapi-spare"
SCOPES = ["jobs:write", "jobs:read", "streams", "usage:read", "keys:write"]
"""Not `webhooks`: a fuzzed webhook URL must never be sent a delivery (nor a job's `webhook`)."""


def _toml(value: Any) -> str:
    """A TOML value (JSON's strings, numbers, booleans and arrays are TOML's)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _config(
    dictionaries: dict[str, list[str]],
    parameters: dict[str, dict[str, Any]],
    operations: dict[str, dict[str, dict[str, Any]]],
) -> str:
    """A schemathesis.toml: documented upstream statuses, no values reused from answers, and
    real identifiers (dictionaries) offered for some parameters beside random ones."""
    lines = [
        "[checks.not_a_server_error]",
        'expected-statuses = ["2xx", "3xx", "4xx", "502", "503", "504"]',
        "[phases.fuzzing.extra-data-sources]",
        "responses = false",
        "[parameters]",
        *(f"{json.dumps(key)} = {_toml(value)}" for key, value in parameters.items()),
    ]
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {_toml(values)}"]
    for operation, bound in operations.items():
        lines += ["[[operations]]", f"include-name = {json.dumps(operation)}"]
        lines.append(f"parameters = {_toml(bound)}")
    return "\n".join(lines) + "\n"


def fuzz(
    tmp_path: Path,
    name: str,
    base_url: str,
    authorization: str,
    config: str,
    filters: list[str],
) -> tuple[dict[str, Any], str]:
    """Runs `schemathesis run` against `base_url`'s /openapi.json; its JSON report and output."""
    config_file = tmp_path / f"{name}.toml"
    config_file.write_text(config)
    report = tmp_path / f"{name}.json"
    argv = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config_file),
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"Authorization: {authorization}",
        "--phases",
        "fuzzing",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--checks",
        CHECKS,
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
        *filters,
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path
    )
    output = done.stdout + done.stderr
    assert report.exists(), output
    result: dict[str, Any] = json.loads(report.read_text())
    return result, output


def assert_conforms(report: dict[str, Any], output: str, least_operations: int) -> None:
    """Every selected operation tested, many cases each, and no failure nor error."""
    operations = report["operations"]
    cases = report["test_cases"]
    assert not report["failures"] and not report["errors"], output
    assert report["exit_code"] == 0 and report["complete"], output
    assert operations["tested"] == operations["selected"] >= least_operations, operations
    assert operations["errored"] == 0 and operations["skipped"] == 0, operations
    assert cases["generated"] >= 5 * operations["tested"], cases


def _tenant_key(stack: StackClient) -> tuple[str, str]:
    """A key of the fuzzer's own tenant (made once per stack) and its id."""
    admin = {"Authorization": f"Bearer {stack.state.admin_key}"}
    base = stack.state.endpoints.gateway_api
    for tenant in (TENANT, SPARE_TENANT):
        made = httpx.post(f"{base}/v1/tenants", json={"name": tenant}, headers=admin)
        assert made.status_code in (201, 409), made.text
    key = httpx.post(
        f"{base}/v1/keys",
        json={"tenant": TENANT, "name": "schemathesis", "scopes": SCOPES},
        headers=admin,
    )
    assert key.status_code == 201, key.text
    return key.json()["secret"], key.json()["key"]["id"]


def _finished_job(base: str, secret: str) -> str:
    """A job of the fuzzer's tenant that succeeded, so job routes have one to find."""
    answer = httpx.post(
        f"{base}/v1/jobs",
        json={"capability": "echo", "input": {"fuzzed": True}, "max_price_wei_per_second": 10**14},
        headers={"Authorization": f"Bearer {secret}", "Prefer": "wait=30"},
        timeout=60,
    )
    assert answer.status_code == 200 and answer.json()["job"]["state"] == "succeeded", answer.text
    job_id: str = answer.json()["job_id"]
    return job_id


def test_the_gateway_answers_as_its_openapi_document_says(
    stack: StackClient, tmp_path: Path
) -> None:
    started = time.monotonic()
    secret, key_id = _tenant_key(stack)
    base = stack.state.endpoints.gateway_api
    job_id = _finished_job(base, secret)
    budget = httpx.post(
        f"{base}/v1/budgets",
        json={"period": "total", "amount_wei": str(10**24), "key_id": key_id},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert budget.status_code == 201, budget.text
    config = _config(
        dictionaries={"jobs": [job_id], "budgets": [budget.json()["id"]], "caps": ["echo"]},
        parameters={
            "path.job_id": {"dictionary": "jobs", "probability": 0.5},
            "path.budget_id": {"dictionary": "budgets", "probability": 0.3},
        },
        # Some submissions name a capability on offer, so jobs run and `Prefer: wait` answers.
        operations={
            "POST /v1/jobs": {"body.capability": {"dictionary": "caps", "probability": 0.2}}
        },
    )
    report, output = fuzz(
        tmp_path,
        "gateway",
        base,
        f"Bearer {secret}",
        config,
        [
            "--exclude-name",
            "DELETE /v1/keys/{key_id}",
            "--exclude-name",
            "POST /v1/keys/{key_id}/rotate",
        ],
    )
    assert_conforms(report, output, least_operations=35)

    # The operator's routes, with the operator's key, on a tenant of the fuzzer's own.
    admin = _config(
        dictionaries={"tenants": [SPARE_TENANT]},
        parameters={"path.name": {"dictionary": "tenants", "probability": 0.5}},
        operations={},
    )
    report, output = fuzz(
        tmp_path,
        "gateway-admin",
        base,
        f"Bearer {stack.state.admin_key}",
        admin,
        ["--include-path-regex", "^/v1/tenants"],
    )
    assert_conforms(report, output, least_operations=4)
    print(f"gateway fuzzed in {time.monotonic() - started:.1f} s")


def test_the_orchestrator_answers_as_its_openapi_document_says(
    stack: StackClient, tmp_path: Path
) -> None:
    started = time.monotonic()
    secret = stack.state.orchestrator_secret
    api = stack.orchestrator
    before = {c["name"] for c in api.get("/v1/capabilities").json()["capabilities"]}
    address = encode_eth_address_header(stack.gateway_key, stack.gateway_address)
    config = _config(
        # A real gateway's address proof, so token requests get past it to pricing.
        dictionaries={"addresses": [address]},
        parameters={"header.Livepeer-Eth-Address": {"dictionary": "addresses", "probability": 0.5}},
        operations={},
    )
    try:
        report, output = fuzz(
            tmp_path,
            "orchestrator",
            stack.state.endpoints.orchestrator_api,
            secret,
            config,
            ["--exclude-name", "POST /v1/workers"],
        )
    finally:
        after = {c["name"] for c in api.get("/v1/capabilities").json()["capabilities"]}
        for name in after - before:
            api.post("/capability/unregister", content=name, headers={"Authorization": secret})
    assert_conforms(report, output, least_operations=24)
    print(f"orchestrator fuzzed in {time.monotonic() - started:.1f} s")
