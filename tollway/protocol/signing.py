"""secp256k1 signatures as go-livepeer makes them: EIP-191, 65 bytes r||s||v, v 27/28, low s.

Two styles meet here:
- tickets sign their 32-byte hash directly (`sign_digest`);
- job headers and address proofs sign keccak256 of a message first (`sign_message`).
"""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature as _EthBadSignature
from eth_utils.crypto import keccak

from tollway.errors import BadSignature

__all__ = [
    "SECP256K1_HALF_N",
    "parse_hex_signature",
    "recover_digest",
    "recover_message",
    "sign_digest",
    "sign_message",
]

SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """EIP-191 personal-sign of a 32-byte digest (the ticket signature)."""
    signed = Account.sign_message(encode_defunct(primitive=digest), private_key=private_key)
    return bytes(signed.signature)


def recover_digest(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed `digest`, enforcing go-livepeer's rules."""
    if len(signature) != 65:
        raise BadSignature(f"signature must be 65 bytes, got {len(signature)}")
    if signature[64] not in (27, 28):
        raise BadSignature(f"signature v must be 27 or 28, got {signature[64]}")
    if int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_N:
        raise BadSignature("signature s is in the upper half of the curve order")
    try:
        return str(Account.recover_message(encode_defunct(primitive=digest), signature=signature))
    except (_EthBadSignature, ValueError) as exc:
        raise BadSignature(f"signature does not recover: {exc}") from exc


def sign_message(private_key: bytes, message: bytes) -> bytes:
    """EIP-191 personal-sign of keccak256(message) (job header and address proofs)."""
    return sign_digest(private_key, keccak(message))


def recover_message(message: bytes, signature: bytes) -> str:
    return recover_digest(keccak(message), signature)


def parse_hex_signature(value: str) -> bytes:
    """A `0x`-prefixed (or bare) hex signature as bytes, with a clear error for garbage."""
    text = value[2:] if value.startswith(("0x", "0X")) else value
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise BadSignature("signature is not hex") from exc
