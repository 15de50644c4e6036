"""The `Livepeer` job header, its JobParameters, and the `Livepeer-Eth-Address` proof
.

Both headers are standard base64 of JSON. The job signature covers `request + parameters`
exactly as sent; the address proof signs the checksummed address string. Both are EIP-191 over
keccak256. `parameters` is a JSON string shaped as go-livepeer's JobParameters; it is parsed
once, when the header is decoded.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import unquote

from eth_utils.address import is_address, to_checksum_address
from pydantic import BaseModel, Field, PrivateAttr

from tollway.errors import BadJobHeader, BadRequest, BadSignature
from tollway.protocol.signing import parse_hex_signature, recover_message, sign_message

__all__ = [
    "CAPABILITY_NAME",
    "MAX_HEADER_BYTES",
    "MAX_PATH_CHARS",
    "MAX_TIMEOUT_SECONDS",
    "JobParameters",
    "JobRequest",
    "encode_eth_address_header",
    "job_path",
    "verify_eth_address_header",
]

MAX_HEADER_BYTES = 16 * 1024
CAPABILITY_NAME = r"^[!-~]{1,128}$"
"""A capability's name travels in HTTP headers (`Livepeer-Capability`): visible ASCII only (a
name no header can carry would leave a job asking for tokens it can never get)."""
MAX_TIMEOUT_SECONDS = 3600
MAX_PATH_CHARS = 512
_DECODINGS = 3
"""Percent-decodings tried on a path: "%252e%252e" is ".." after two."""


def _decode_json_header(value: str | None, name: str) -> dict[str, Any]:
    if not value:
        raise BadJobHeader(f"missing {name} header", field=name)
    if len(value) > MAX_HEADER_BYTES:
        raise BadJobHeader(f"{name} header is longer than {MAX_HEADER_BYTES} bytes", field=name)
    try:
        data = json.loads(base64.b64decode(value.strip(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise BadJobHeader(f"{name} header is not base64-encoded JSON", field=name) from exc
    if not isinstance(data, dict):
        raise BadJobHeader(f"{name} header must be a JSON object", field=name)
    return data


def _encode_json_header(data: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


class JobParameters(BaseModel):
    """The job's go-livepeer JobParameters: orchestrators to include or exclude, by URL."""

    include: list[str] = []
    exclude: list[str] = []

    @classmethod
    def parse(cls, parameters: str) -> JobParameters:
        """From the header's `parameters` JSON string; any other shape is a BadJobHeader."""
        try:
            parsed = json.loads(parameters or "{}") or {}
        except ValueError as exc:
            raise BadJobHeader("parameters is not valid JSON", field="parameters") from exc
        if not isinstance(parsed, dict):
            raise BadJobHeader("parameters must hold a JSON object", field="parameters")
        orchestrators = parsed.get("orchestrators") or {}
        if not isinstance(orchestrators, dict):
            raise BadJobHeader("parameters.orchestrators must be an object", field="parameters")
        lists = []
        for key in ("include", "exclude"):
            urls = orchestrators.get(key) or []
            if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
                raise BadJobHeader(
                    f"parameters.orchestrators.{key} must be a list of URLs", field="parameters"
                )
            lists.append(urls)
        return cls(include=lists[0], exclude=lists[1])


class JobRequest(BaseModel):
    id: str = ""
    request: str = "{}"
    parameters: str = "{}"
    capability: str
    timeout_seconds: int = Field(gt=0, le=3600)
    sender: str = ""
    sig: str = ""
    _parsed: JobParameters | None = PrivateAttr(default=None)

    @property
    def job_parameters(self) -> JobParameters:
        """`parameters`, parsed (once: `decode` keeps what it parsed)."""
        if self._parsed is None:
            self._parsed = JobParameters.parse(self.parameters)
        return self._parsed

    def signed_message(self) -> bytes:
        return (self.request + self.parameters).encode()

    def signed_by(self, private_key: bytes, address: str) -> JobRequest:
        sig = sign_message(private_key, self.signed_message())
        return self.model_copy(update={"sender": address, "sig": "0x" + sig.hex()})

    def verify(self) -> str:
        """The checksummed sender, or BadSignature when `sig` does not recover to `sender`."""
        if not is_address(self.sender):
            raise BadSignature("job header sender is not an address", field="sender")
        signer = recover_message(self.signed_message(), parse_hex_signature(self.sig))
        if signer != to_checksum_address(self.sender):
            raise BadSignature("job signature does not match sender", field="sig")
        return signer

    def encode(self) -> str:
        return _encode_json_header(self.model_dump(exclude_defaults=False))

    @classmethod
    def decode(cls, value: str | None) -> JobRequest:
        data = _decode_json_header(value, "Livepeer")
        capability = data.get("capability")
        if not isinstance(capability, str) or not capability:
            raise BadJobHeader("Livepeer header needs a capability", field="capability")
        if not re.match(CAPABILITY_NAME, capability):
            raise BadJobHeader(
                "a capability's name is 1-128 visible ASCII characters", field="capability"
            )
        timeout = data.get("timeout_seconds")
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
            raise BadJobHeader(
                "Livepeer header needs a positive integer timeout_seconds", field="timeout_seconds"
            )
        if timeout > MAX_TIMEOUT_SECONDS:
            raise BadJobHeader(
                f"timeout_seconds above the {MAX_TIMEOUT_SECONDS} s limit", field="timeout_seconds"
            )
        for field in ("request", "parameters"):
            text = data.get(field, "{}")
            if not isinstance(text, str):
                raise BadJobHeader(f"{field} must be a string holding JSON", field=field)
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                raise BadJobHeader(f"{field} is not valid JSON", field=field) from exc
            if not isinstance(parsed, dict):
                raise BadJobHeader(f"{field} must hold a JSON object", field=field)
        job_parameters = JobParameters.parse(data.get("parameters", "{}"))
        for field in ("id", "sender", "sig"):
            if not isinstance(data.get(field, ""), str):
                raise BadJobHeader(f"{field} must be a string", field=field)
        job = cls(
            id=data.get("id", ""),
            request=data.get("request", "{}"),
            parameters=data.get("parameters", "{}"),
            capability=capability,
            timeout_seconds=timeout,
            sender=data.get("sender", ""),
            sig=data.get("sig", ""),
        )
        job._parsed = job_parameters
        return job


def encode_eth_address_header(private_key: bytes, address: str) -> str:
    addr = to_checksum_address(address)
    sig = sign_message(private_key, addr.encode())
    return _encode_json_header({"addr": addr, "sig": "0x" + sig.hex()})


def verify_eth_address_header(value: str | None) -> str:
    """The gateway address proven by a `Livepeer-Eth-Address` header."""
    data = _decode_json_header(value, "Livepeer-Eth-Address")
    addr, sig = data.get("addr"), data.get("sig")
    if not isinstance(addr, str) or not is_address(addr):
        raise BadJobHeader("Livepeer-Eth-Address needs an addr", field="addr")
    if not isinstance(sig, str):
        raise BadJobHeader("Livepeer-Eth-Address needs a sig", field="sig")
    if recover_message(addr.encode(), parse_hex_signature(sig)) != to_checksum_address(addr):
        raise BadSignature("Livepeer-Eth-Address signature does not match addr", field="sig")
    return to_checksum_address(addr)


def job_path(path: str) -> str:
    """The `{path}` of `/process/request/{path}`, checked before it is appended to a
    capability's URL: a dot segment, a backslash or a control character, even percent-encoded,
    could make the request leave that URL, so each is refused (400, naming the path)."""
    if len(path) > MAX_PATH_CHARS:
        raise BadRequest(f"path is longer than {MAX_PATH_CHARS} characters", field="path")
    decoded = path
    for _ in range(_DECODINGS):
        if any(ord(c) < 0x20 or c in "\x7f\\" for c in decoded):
            raise BadRequest("path holds a control character or a backslash", field="path")
        if any(segment in (".", "..") for segment in decoded.split("/")):
            raise BadRequest(
                f"path {path[:100]!r} has a '.' or '..' segment: it must stay under the "
                "capability's URL",
                field="path",
            )
        decoded = unquote(decoded)
    return path
