"""Bad input against the real processes: a clear JSON error naming the problem, nothing
credited, nothing crashed (each go-livepeer quirk is answered properly here)."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from tests.e2e.conftest import BODY_LIMIT, BODY_READ_TIMEOUT_SECONDS
from tests.e2e.stack_client import StackClient
from tollway.payments.sender import NonceStore, TicketSender
from tollway.protocol.header import encode_eth_address_header
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price


def error_of(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The answer's RFC 9457 problem document, checked for its standard members."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    error: dict[str, Any] = answer.json()
    assert error["detail"] and error["status"] == status and error["title"]
    assert error["type"].startswith("urn:tollway:problem:")
    assert error["instance"] == answer.request.url.path
    assert error["request_id"] == answer.headers["X-Request-Id"]
    return error


def livepeer_header(payload: bytes) -> str:
    return base64.b64encode(payload).decode()


@pytest.mark.parametrize(
    ("header", "field"),
    [
        (None, "Livepeer"),
        ("%%%not-base64%%%", "Livepeer"),
        (livepeer_header(b"not json"), "Livepeer"),
        (livepeer_header(b'{"timeout_seconds": 5}'), "capability"),
        (livepeer_header(b'{"capability": "echo", "timeout_seconds": 0}'), "timeout_seconds"),
        (livepeer_header(b'{"capability": "echo", "timeout_seconds": "5"}'), "timeout_seconds"),
        (livepeer_header(b'{"capability": "echo", "timeout_seconds": 86400}'), "timeout_seconds"),
        (
            livepeer_header(b'{"capability": "echo", "timeout_seconds": 5, "request": "{"}'),
            "request",
        ),
        (
            livepeer_header(b'{"capability": "echo", "timeout_seconds": 5, "parameters": 7}'),
            "parameters",
        ),
    ],
)
def test_bad_livepeer_header_names_the_field(
    stack: StackClient, header: str | None, field: str
) -> None:
    headers = {"Livepeer": header} if header is not None else {}
    for client in (stack.gateway, stack.orchestrator):
        error = error_of(client.post("/process/request/x", headers=headers), 400)
        assert error["code"] == "BadJobHeader"
        assert error["field"] == field


def test_bad_job_signature_is_refused(stack: StackClient) -> None:
    signed = stack.signed_header(request='{"a": 1}')
    tampered = base64.b64decode(signed).replace(b'{\\"a\\": 1}', b'{\\"a\\": 2}')
    assert tampered != base64.b64decode(signed)
    answer = stack.orchestrator.post(
        "/process/request/x", headers={"Livepeer": base64.b64encode(tampered).decode()}
    )
    assert error_of(answer, 400)["code"] == "BadSignature"


def _payment(
    stack: StackClient, tmp_path: Path, signer: bytes | None = None, count: int = 1
) -> str:
    token = stack.token()
    params = TicketParams.from_json(token["ticket_params"])
    price = Price.from_json(token["price"])
    sender = TicketSender(
        signer or stack.gateway_key, stack.gateway_address, NonceStore(tmp_path / "nonces.db")
    )
    return sender.batch(params, price, count).payment.encode()


def test_forged_ticket_signature_credits_nothing(stack: StackClient, tmp_path: Path) -> None:
    before = stack.credit()
    forged = _payment(stack, tmp_path, signer=bytes(Account.create().key))
    answer = stack.orchestrator.post(
        "/process/request/x",
        headers={"Livepeer": stack.signed_header(), "Livepeer-Payment": forged},
    )
    error = error_of(answer, 400)
    assert error["code"] == "BadPayment"
    assert "not signed by the sender" in error["detail"]
    assert stack.credit() == before


def test_replayed_ticket_is_refused_and_credits_nothing(stack: StackClient, tmp_path: Path) -> None:
    payment = _payment(stack, tmp_path)
    headers = {"Livepeer": stack.signed_header(), "Livepeer-Payment": payment}
    first = stack.orchestrator.post("/process/request/x", headers=headers, content=b"once")
    assert first.status_code == 200, first.text
    after_first = stack.credit()
    replay = stack.orchestrator.post("/process/request/x", headers=headers, content=b"twice")
    error = error_of(replay, 400)
    assert error["code"] == "BadPayment"
    assert "already used" in error["detail"]
    assert stack.credit() == after_first


def test_a_sender_without_funds_gets_no_ticket_params(stack: StackClient) -> None:
    stranger = Account.create()
    proof = encode_eth_address_header(bytes(stranger.key), stranger.address)
    answer = stack.orchestrator.get(
        "/process/token", headers={"Livepeer-Eth-Address": proof, "Livepeer-Capability": "echo"}
    )
    error = error_of(answer, 503)
    assert error["code"] == "InsufficientSenderReserve"
    assert stranger.address in error["detail"]


def test_garbled_payment_header_is_a_4xx_not_a_dropped_connection(stack: StackClient) -> None:
    before = stack.credit()
    for garbage in ("%%%", base64.b64encode(b"\xff\x00garbage").decode()):
        headers = {"Livepeer": stack.signed_header(), "Livepeer-Payment": garbage}
        answer = stack.orchestrator.post("/process/request/x", headers=headers)
        assert error_of(answer, 400)["code"] == "BadPayment"
    assert stack.credit() == before
    # An empty header is no payment: the job runs on credit left, or is refused for want of it.
    headers = {"Livepeer": stack.signed_header(), "Livepeer-Payment": ""}
    answer = stack.orchestrator.post("/process/request/x", headers=headers)
    assert answer.status_code == 200 or error_of(answer, 400)["code"] == "InsufficientCredit"


def test_unknown_capability(stack: StackClient, dead_orchestrator: str) -> None:
    direct = stack.orchestrator.post(
        "/process/request/x", headers={"Livepeer": stack.signed_header("no-such-capability")}
    )
    assert error_of(direct, 503)["code"] == "UnknownCapability"

    header = livepeer_header(b'{"capability": "no-such-capability", "timeout_seconds": 10}')
    answer = stack.gateway.post("/process/request/x", headers={"Livepeer": header})
    error = error_of(answer, 503)
    assert error["code"] == "NoOrchestrator"
    assert "no-such-capability" in error["detail"]
    reasons = {a["orchestrator"]: a["reason"] for a in error["attempts"]}
    # The dead one is suspended (or, past its cool-down, found unreachable again); the live
    # one's /v1/info does not list the capability, so it is not even asked.
    assert "unreachable" in reasons[dead_orchestrator]
    # The live one is counted in the message, not listed: every attempt names an orchestrator.
    assert "(1 known orchestrator(s) do not offer it)" in error["detail"]
    assert all(a["orchestrator"].startswith("http://") for a in error["attempts"])


def test_every_orchestrator_failing_lists_each_attempt(
    stack: StackClient, dead_orchestrator: str
) -> None:
    header = livepeer_header(b'{"capability": "echo", "timeout_seconds": 10}')
    answer = stack.gateway.post("/process/request/fail", headers={"Livepeer": header})
    error = error_of(answer, 502)
    assert error["code"] == "AllOrchestratorsFailed"
    stages = {(a["orchestrator"], a["stage"]) for a in error["attempts"]}
    assert {(dead_orchestrator, "select"), (dead_orchestrator, "discover")} & stages
    assert (stack.state.endpoints.orchestrator_api, "dispatch") in stages
    dispatch = next(a for a in error["attempts"] if a["stage"] == "dispatch")
    assert dispatch["status_code"] == 500


def test_registration_with_a_wrong_secret_is_401(stack: StackClient) -> None:
    body = {"name": "evil", "url": "http://127.0.0.1:9", "capacity": 1, "price_per_unit": 1}
    for secret in ("wrong-secret", None, stack.state.orchestrator_secret + "x"):
        headers = {"Authorization": secret} if secret else {}
        answer = stack.orchestrator.post("/capability/register", json=body, headers=headers)
        assert error_of(answer, 401)["code"] == "Unauthorized"
    names = [c["name"] for c in stack.orchestrator.get("/v1/capabilities").json()["capabilities"]]
    assert "evil" not in names


def test_registration_validates_its_body(stack: StackClient) -> None:
    headers = {"Authorization": stack.state.orchestrator_secret}
    answer = stack.orchestrator.post(
        "/capability/register",
        json={"name": "x", "url": "http://127.0.0.1:1", "currency": "USD"},
        headers=headers,
    )
    error = error_of(answer, 400)
    assert "currency" in error["detail"]


def declared_too_large(base_url: str, headers: dict[str, str]) -> httpx.Response:
    """POST that declares a body over the limit and sends none: it must be refused at once."""
    url = httpx.URL(base_url)
    connection = http.client.HTTPConnection(str(url.host), url.port, timeout=10)
    try:
        connection.putrequest("POST", "/process/request/x")
        for name, value in {**headers, "Content-Length": str(BODY_LIMIT + 1)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        return httpx.Response(
            answer.status,
            headers=answer.getheaders(),
            content=answer.read(),
            request=httpx.Request("POST", url.join("/process/request/x")),
        )
    finally:
        connection.close()


def test_huge_bodies_are_refused_with_413(stack: StackClient) -> None:
    header = livepeer_header(b'{"capability": "echo", "timeout_seconds": 10}')
    gateway = declared_too_large(stack.state.endpoints.gateway_api, {"Livepeer": header})
    assert error_of(gateway, 413)["code"] == "BodyTooLarge"
    orchestrator = declared_too_large(
        stack.state.endpoints.orchestrator_api, {"Livepeer": stack.signed_header()}
    )
    assert error_of(orchestrator, 413)["code"] == "BodyTooLarge"


def test_job_api_needs_a_key_and_valid_fields(stack: StackClient) -> None:
    anonymous = httpx.post(f"{stack.state.endpoints.gateway_api}/v1/jobs", json={})
    assert error_of(anonymous, 401)["code"] == "Unauthorized"
    bad = stack.gateway.post("/v1/jobs", json={"capability": "echo", "timeout_seconds": 0})
    assert "timeout_seconds" in error_of(bad, 400)["detail"]
    garbage = stack.gateway.post("/v1/jobs", content=b"{not json")
    assert error_of(garbage, 400)["code"] == "BadRequest"
    missing = stack.gateway.get("/v1/jobs/default.nope")
    assert error_of(missing, 404)["code"] == "NotFound"


def test_a_path_that_leaves_the_capability_is_refused(stack: StackClient) -> None:
    """A request path must stay under the capability's URL on both sides (a fuzzer reached the
    capability host's `/admin` through `..%2F..%2Fadmin`)."""
    escape = "/process/request/..%2F..%2Fadmin"
    direct = stack.orchestrator.post(escape, headers={"Livepeer": stack.signed_header()})
    assert error_of(direct, 400)["field"] == "path"
    header = livepeer_header(b'{"capability": "echo", "timeout_seconds": 10}')
    relayed = stack.gateway.post(escape, headers={"Livepeer": header}, content=b"x")
    assert error_of(relayed, 400)["field"] == "path"
    submitted = stack.gateway.post(
        "/v1/jobs", json={"capability": "echo", "input": {}, "path": "../../../etc/passwd"}
    )
    assert error_of(submitted, 400)["field"] == "path"


def test_registration_takes_only_urls_a_capability_may_use(stack: StackClient) -> None:
    headers = {"Authorization": stack.state.orchestrator_secret}
    for url, problem in (
        ("file:///etc/passwd", "http or https"),
        ("gopher://127.0.0.1:70/", "http or https"),
        ("http://169.254.169.254/latest/meta-data/", "may not point at"),
        (stack.state.endpoints.chain_rpc, "own services"),
        (stack.state.endpoints.orchestrator_api + "/admin", "own services"),
    ):
        body = {"name": "proxy", "url": url, "capacity": 1, "price_per_unit": 0}
        answer = stack.orchestrator.post("/capability/register", json=body, headers=headers)
        assert problem in json.dumps(error_of(answer, 400)), url
    # A host that is no GPU worker's: 400 once every worker has reported, 503 (retried) before.
    body = {"name": "proxy", "url": "http://10.11.12.13:8000", "capacity": 1, "price_per_unit": 0}
    answer = stack.orchestrator.post("/capability/register", json=body, headers=headers)
    assert answer.status_code in (400, 503), answer.text
    assert "capability_hosts" in answer.json()["detail"]
    names = [c["name"] for c in stack.orchestrator.get("/v1/capabilities").json()["capabilities"]]
    assert "proxy" not in names


def test_submissions_refuse_bad_types_and_numbers_before_any_orchestrator(
    stack: StackClient,
) -> None:
    def echo_record() -> dict[str, Any]:
        view = stack.gateway.get("/v1/marketplace").json()
        offer: dict[str, Any] = view["capabilities"]["echo"]["offers"][0]
        return {k: offer[k] for k in ("success_rate", "jobs_observed")}

    before = echo_record()
    job = '{"capability": "echo", "input": 1, '
    for body, field in (
        (job + r'"content_type": "text/plain\r\nX: y"}', "content_type"),
        (job + r'"content_type": "t\u00e9xt/plain"}', "content_type"),
        ('{"capability": "echo", "input": NaN}', "input"),
        ('{"capability": "echo", "input": {"x": [1e999]}}', "input"),
        (job + '"parameters": {"n": Infinity}}', "parameters"),
        (job + '"max_price_wei_per_second": false}', "max_price_wei_per_second"),
        (job + '"timeout_seconds": "30"}', "timeout_seconds"),
    ):
        answer = stack.gateway.post("/v1/jobs", content=body.encode())
        assert field in error_of(answer, 400)["detail"], body
    assert echo_record() == before  # a client's bad input is never an orchestrator's failure


def _raw_request(url: str, head: bytes, body: bytes) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=BODY_READ_TIMEOUT_SECONDS + 20)
    conn.sendall(head + body)
    return conn


def _read_answer(conn: socket.socket) -> bytes:
    """Whatever the server sends until it has sent a whole head, or closes."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = conn.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer


def test_a_stalled_body_gets_408_and_a_hang_up_leaves_no_traceback(stack: StackClient) -> None:
    gateway = stack.state.endpoints.gateway_api
    key = stack.gateway.headers["Authorization"]
    head = (
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
        b"Authorization: " + key.encode() + b"\r\nContent-Type: application/json\r\n\r\n"
    )
    log = Path(stack.state.directory) / "logs" / "gateway-api.log"
    logged = len(log.read_text())
    started = time.monotonic()
    with _raw_request(gateway, head, b'{"capab') as stalled:
        answer = _read_answer(stalled)
    waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), (answer[:300], log.read_text()[logged:])
    assert BODY_READ_TIMEOUT_SECONDS <= waited < BODY_READ_TIMEOUT_SECONDS + 15, waited

    _raw_request(gateway, head, b'{"capab').close()  # hangs up mid-body
    time.sleep(1)
    assert stack.gateway.get("/healthz").status_code == 200
    new_lines = log.read_text()[logged:]
    assert "unhandled error" not in new_lines and "Traceback" not in new_lines, new_lines


def test_the_stack_survived_all_of_it(stack: StackClient) -> None:
    assert stack.gateway.get("/healthz").status_code == 200
    assert stack.orchestrator.get("/healthz").status_code == 200
    header = livepeer_header(b'{"capability": "echo", "timeout_seconds": 10}')
    answer = stack.gateway.post("/process/request/x", headers={"Livepeer": header}, content=b"ok")
    assert answer.status_code == 200
    assert answer.content == b"ok"
