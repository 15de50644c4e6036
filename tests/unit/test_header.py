"""The `Livepeer` job header and the `Livepeer-Eth-Address` proof."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from tollway.errors import BadJobHeader, BadRequest, BadSignature
from tollway.protocol.header import (
    JobRequest,
    encode_eth_address_header,
    job_path,
    verify_eth_address_header,
)
from tollway.protocol.signing import parse_hex_signature, recover_message

GATEWAY = Account.create()
INTRUDER = Account.create()
GATEWAY_KEY = bytes(GATEWAY.key)


def b64json(data: Any) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def valid_fields(**changes: Any) -> dict[str, Any]:
    return {
        "id": "job-1",
        "request": '{"stream_id":""}',
        "parameters": '{"orchestrators":{"include":[],"exclude":[]}}',
        "capability": "echo",
        "timeout_seconds": 30,
        **changes,
    }


def refused_field(value: str | None) -> str:
    with pytest.raises(BadJobHeader) as info:
        JobRequest.decode(value)
    assert info.value.status_code == 400
    field = info.value.details["field"]
    assert isinstance(field, str)
    return field


def signed_job() -> JobRequest:
    job = JobRequest.decode(b64json(valid_fields()))
    return job.signed_by(GATEWAY_KEY, GATEWAY.address)


# --- decoding ---------------------------------------------------------------------------------


def test_decode_valid_header() -> None:
    job = JobRequest.decode(b64json(valid_fields()))
    assert job.id == "job-1"
    assert job.capability == "echo"
    assert job.timeout_seconds == 30
    assert job.request == '{"stream_id":""}'
    assert job.parameters == '{"orchestrators":{"include":[],"exclude":[]}}'
    assert job.sender == ""
    assert job.sig == ""


def test_decode_defaults_request_and_parameters_to_empty_object() -> None:
    job = JobRequest.decode(b64json({"capability": "echo", "timeout_seconds": 5}))
    assert job.request == "{}"
    assert job.parameters == "{}"
    assert job.id == ""


def test_decode_ignores_capability_url_and_unknown_keys() -> None:
    job = JobRequest.decode(b64json(valid_fields(capability_url="http://evil", extra=1)))
    assert job.capability == "echo"
    assert "capability_url" not in json.loads(base64.b64decode(job.encode()))


@pytest.mark.parametrize("value", [None, ""])
def test_missing_header(value: str | None) -> None:
    assert refused_field(value) == "Livepeer"


@pytest.mark.parametrize("value", ["not base64!", "%%%%", "e30", "e30=\u00e9"])
def test_non_base64_header(value: str) -> None:
    assert refused_field(value) == "Livepeer"


@pytest.mark.parametrize("payload", [b"not json", b"{", b"\xff\xfe\x00garbage", b" "])
def test_base64_of_non_json(payload: bytes) -> None:
    value = base64.b64encode(payload).decode()
    assert refused_field(value) == "Livepeer"


@pytest.mark.parametrize("data", [[valid_fields()], "string", 5, None, True])
def test_json_that_is_not_an_object(data: Any) -> None:
    assert refused_field(b64json(data)) == "Livepeer"


@pytest.mark.parametrize("capability", [None, "", 5, ["echo"], {"name": "echo"}])
def test_missing_or_empty_capability(capability: Any) -> None:
    fields = valid_fields(capability=capability)
    if capability is None:
        del fields["capability"]
    assert refused_field(b64json(fields)) == "capability"


@pytest.mark.parametrize("timeout", [None, 0, -1, -30, "30", True, False, 1.5, 30.0, [30]])
def test_bad_timeout_seconds(timeout: Any) -> None:
    fields = valid_fields(timeout_seconds=timeout)
    if timeout is None:
        del fields["timeout_seconds"]
    assert refused_field(b64json(fields)) == "timeout_seconds"


@pytest.mark.parametrize("field", ["request", "parameters"])
@pytest.mark.parametrize(
    "value",
    [
        {"stream_id": ""},  # an object, not a string holding JSON
        5,
        None,
        ["{}"],
        "",  # an empty string fails JSON decoding (a go-livepeer quirk)
        "not json",
        "{",
        "[]",
        "1",
        '"{}"',
        "null",
    ],
)
def test_request_and_parameters_must_be_strings_holding_json_objects(
    field: str, value: Any
) -> None:
    assert refused_field(b64json(valid_fields(**{field: value}))) == field


@pytest.mark.parametrize("field", ["id", "sender", "sig"])
def test_string_fields_must_be_strings(field: str) -> None:
    assert refused_field(b64json(valid_fields(**{field: 7}))) == field


@pytest.mark.parametrize(
    "orchestrators",
    [["https://o1:8935"], "https://o1:8935", {"include": "https://o1:8935"}, {"exclude": [1, 2]}],
)
def test_parameters_must_parse_as_job_parameters(orchestrators: Any) -> None:
    """go-livepeer decodes `parameters` into JobParameters; a wrong shape is a 400.

    Letting it through makes `JobParameters.parse` fail inside the job workflow instead.
    """
    parameters = json.dumps({"orchestrators": orchestrators})
    assert refused_field(b64json(valid_fields(parameters=parameters))) == "parameters"


def test_encode_decode_round_trip() -> None:
    job = signed_job()
    decoded = JobRequest.decode(job.encode())
    assert decoded == job
    assert json.loads(base64.b64decode(job.encode()))["timeout_seconds"] == 30


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_decode_of_arbitrary_text_is_bad_request_or_succeeds(text: str) -> None:
    try:
        job = JobRequest.decode(text)
    except BadRequest as exc:
        assert exc.status_code == 400
    else:
        assert job.capability
        assert job.timeout_seconds > 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
header_keys = st.sampled_from(
    ["id", "request", "parameters", "capability", "timeout_seconds", "sender", "sig"]
)


@settings(max_examples=500)
@given(
    st.dictionaries(
        header_keys,
        json_values | st.sampled_from(["{}", "[]", "echo", '{"a":1}']) | st.integers(-5, 5),
    )
)
def test_decode_of_arbitrary_json_objects_is_bad_job_header_or_succeeds(
    data: dict[str, Any],
) -> None:
    try:
        job = JobRequest.decode(b64json(data))
    except BadJobHeader as exc:
        assert exc.details["field"] in {"Livepeer", *data, "capability", "timeout_seconds"}
    else:
        assert job.capability == data["capability"]
        assert json.loads(job.request) == json.loads(data.get("request", "{}"))


# --- signing ----------------------------------------------------------------------------------


def test_signed_by_then_verify_returns_the_address() -> None:
    job = signed_job()
    assert job.sender == GATEWAY.address
    assert job.sig.startswith("0x")
    assert len(job.sig) == 2 + 130
    assert job.verify() == GATEWAY.address


def test_signature_covers_request_then_parameters() -> None:
    job = signed_job()
    message = (job.request + job.parameters).encode()
    assert job.signed_message() == message
    assert recover_message(message, parse_hex_signature(job.sig)) == GATEWAY.address


def test_verify_survives_the_wire() -> None:
    job = JobRequest.decode(signed_job().encode())
    assert job.verify() == GATEWAY.address


def test_verify_accepts_lowercase_sender() -> None:
    job = signed_job().model_copy(update={"sender": GATEWAY.address.lower()})
    assert job.verify() == GATEWAY.address


def _tampered(job: JobRequest, field: str) -> JobRequest:
    if field == "sig":
        raw = bytearray(parse_hex_signature(job.sig))
        raw[10] ^= 0x01
        return job.model_copy(update={"sig": "0x" + raw.hex()})
    values = {
        "request": '{"stream_id":"x"}',
        "parameters": "{}",
        "sender": INTRUDER.address,
    }
    return job.model_copy(update={field: values[field]})


@pytest.mark.parametrize("field", ["request", "parameters", "sender", "sig"])
def test_verify_fails_after_tampering(field: str) -> None:
    job = signed_job()
    tampered = _tampered(job, field)
    assert getattr(tampered, field) != getattr(job, field)
    with pytest.raises(BadSignature):
        tampered.verify()
    # the tampered header also fails after travelling
    with pytest.raises(BadSignature):
        JobRequest.decode(tampered.encode()).verify()


def test_signature_by_another_key_is_refused() -> None:
    job = JobRequest.decode(b64json(valid_fields()))
    forged = job.signed_by(bytes(INTRUDER.key), GATEWAY.address)
    with pytest.raises(BadSignature) as info:
        forged.verify()
    assert info.value.details["field"] == "sig"


@pytest.mark.parametrize("sender", ["", "gateway", "0x1234", "0x" + "zz" * 20])
def test_verify_refuses_non_address_sender(sender: str) -> None:
    job = signed_job().model_copy(update={"sender": sender})
    with pytest.raises(BadSignature) as info:
        job.verify()
    assert info.value.details["field"] == "sender"


@pytest.mark.parametrize("sig", ["", "0x", "0xzz", "0x" + "00" * 64, "0x" + "00" * 65])
def test_verify_refuses_garbage_sig(sig: str) -> None:
    job = signed_job().model_copy(update={"sig": sig})
    with pytest.raises(BadSignature):
        job.verify()


def test_unsigned_header_does_not_verify() -> None:
    with pytest.raises(BadSignature):
        JobRequest.decode(b64json(valid_fields())).verify()


# --- Livepeer-Eth-Address ---------------------------------------------------------------------


def test_eth_address_header_round_trip() -> None:
    header = encode_eth_address_header(GATEWAY_KEY, GATEWAY.address.lower())
    data = json.loads(base64.b64decode(header))
    assert set(data) == {"addr", "sig"}
    assert data["addr"] == GATEWAY.address  # EIP-55 checksummed
    assert data["sig"].startswith("0x")
    # sig = personal-sign(keccak256(addr string))
    signature = parse_hex_signature(data["sig"])
    assert recover_message(GATEWAY.address.encode(), signature) == GATEWAY.address
    assert verify_eth_address_header(header) == GATEWAY.address


def test_eth_address_header_forged_by_another_key_is_refused() -> None:
    forged = encode_eth_address_header(bytes(INTRUDER.key), GATEWAY.address)
    with pytest.raises(BadSignature) as info:
        verify_eth_address_header(forged)
    assert info.value.details["field"] == "sig"


def test_eth_address_header_with_swapped_addr_is_refused() -> None:
    data = json.loads(base64.b64decode(encode_eth_address_header(GATEWAY_KEY, GATEWAY.address)))
    data["addr"] = INTRUDER.address
    with pytest.raises(BadSignature):
        verify_eth_address_header(b64json(data))


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (None, "Livepeer-Eth-Address"),
        ("", "Livepeer-Eth-Address"),
        ("***", "Livepeer-Eth-Address"),
        (b64json(["addr"]), "Livepeer-Eth-Address"),
        (b64json({"sig": "0x00"}), "addr"),
        (b64json({"addr": "not an address", "sig": "0x00"}), "addr"),
        (b64json({"addr": 5, "sig": "0x00"}), "addr"),
        (b64json({"addr": "0x" + "11" * 20}), "sig"),
        (b64json({"addr": "0x" + "11" * 20, "sig": 5}), "sig"),
    ],
)
def test_eth_address_header_malformed(value: str | None, field: str) -> None:
    with pytest.raises(BadJobHeader) as info:
        verify_eth_address_header(value)
    assert info.value.details["field"] == field


def test_eth_address_header_garbage_sig_is_bad_signature() -> None:
    with pytest.raises(BadSignature):
        verify_eth_address_header(b64json({"addr": GATEWAY.address, "sig": "0xnothex"}))
    with pytest.raises(BadSignature):
        verify_eth_address_header(b64json({"addr": GATEWAY.address, "sig": "0x" + "ab" * 65}))


# --- the request path -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "x", "v1/infer", "a..b/c.d", "run?mode=fast", "a%20b"])
def test_a_path_under_the_capability_passes_as_given(path: str) -> None:
    assert job_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "..",
        "./x",
        "../../etc/passwd",
        "a/../../admin",
        "..%2F..%2Fadmin",  # a client's own encoding, decoded once by the framework
        "%2e%2e/admin",
        "%252e%252e/admin",  # encoded twice
        "a\\..\\b",
        "a%5cb",
        "a\r\nHost: evil",
        "x" * 513,
    ],
)
def test_a_path_that_could_leave_the_capability_is_refused(path: str) -> None:
    with pytest.raises(BadRequest) as refusal:
        job_path(path)
    assert refusal.value.details["field"] == "path"
