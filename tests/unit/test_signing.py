"""secp256k1 signatures in go-livepeer's form."""

from __future__ import annotations

import os

import pytest
from eth_account import Account
from eth_keys.datatypes import Signature
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from tollway.errors import BadRequest, BadSignature
from tollway.protocol.signing import (
    SECP256K1_HALF_N,
    parse_hex_signature,
    recover_digest,
    recover_message,
    sign_digest,
    sign_message,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

SIGNER = Account.create()
OTHER = Account.create()
KEY = bytes(SIGNER.key)
DIGEST = keccak(b"a ticket hash")


def _independent_recover(digest: bytes, signature: bytes) -> str:
    """Recover without eth_account: keccak("\\x19Ethereum Signed Message:\\n32" || digest)."""
    prefixed = keccak(b"\x19Ethereum Signed Message:\n32" + digest)
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    sig = Signature(vrs=(signature[64] - 27, r, s))
    return sig.recover_public_key_from_msg_hash(prefixed).to_checksum_address()


def _high_s_variant(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:64], "big")
    flipped_v = 55 - signature[64]  # 27 <-> 28
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([flipped_v])


def test_half_n_constant() -> None:
    assert SECP256K1_HALF_N == SECP256K1_N // 2


def test_sign_digest_round_trip() -> None:
    signature = sign_digest(KEY, DIGEST)
    assert recover_digest(DIGEST, signature) == SIGNER.address


def test_sign_message_round_trip() -> None:
    message = b'{"a":1}{"orchestrators":{}}'
    signature = sign_message(KEY, message)
    assert recover_message(message, signature) == SIGNER.address


def test_sign_digest_is_eip191_over_the_32_byte_digest() -> None:
    signature = sign_digest(KEY, DIGEST)
    assert _independent_recover(DIGEST, signature) == SIGNER.address


def test_sign_message_equals_sign_digest_of_keccak() -> None:
    message = b"0x" + b"ab" * 20
    assert sign_message(KEY, message) == sign_digest(KEY, keccak(message))
    # ...and is not the signature of the raw message bytes used as a digest
    assert recover_digest(keccak(message), sign_message(KEY, message)) == SIGNER.address


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_signatures_are_65_bytes_v_27_28_low_s(digest: bytes) -> None:
    signature = sign_digest(KEY, digest)
    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert int.from_bytes(signature[32:64], "big") <= SECP256K1_HALF_N
    assert recover_digest(digest, signature) == SIGNER.address


def test_other_digest_recovers_another_address() -> None:
    signature = sign_digest(KEY, DIGEST)
    assert recover_digest(keccak(b"something else"), signature) != SIGNER.address


def test_other_key_recovers_other_address() -> None:
    signature = sign_digest(bytes(OTHER.key), DIGEST)
    assert recover_digest(DIGEST, signature) == OTHER.address


@pytest.mark.parametrize("length", [0, 1, 64, 66, 130])
def test_wrong_length_is_refused(length: int) -> None:
    signature = (sign_digest(KEY, DIGEST) * 3)[:length]
    with pytest.raises(BadSignature, match="65 bytes"):
        recover_digest(DIGEST, signature)


@pytest.mark.parametrize("v", [0, 1, 26, 29, 35, 255])
def test_v_other_than_27_or_28_is_refused(v: int) -> None:
    signature = sign_digest(KEY, DIGEST)
    with pytest.raises(BadSignature, match="v must be 27 or 28"):
        recover_digest(DIGEST, signature[:64] + bytes([v]))


def test_high_s_variant_is_refused() -> None:
    signature = sign_digest(KEY, DIGEST)
    malleable = _high_s_variant(signature)
    # the variant is a valid ECDSA signature for the same key...
    assert _independent_recover(DIGEST, malleable) == SIGNER.address
    # ...that go-livepeer (and so tollway) refuses
    with pytest.raises(BadSignature, match="upper half"):
        recover_digest(DIGEST, malleable)
    with pytest.raises(BadSignature):
        recover_message(b"m", _high_s_variant(sign_message(KEY, b"m")))


def test_s_exactly_half_n_is_not_refused_as_high() -> None:
    signature = bytes(32) + SECP256K1_HALF_N.to_bytes(32, "big") + b"\x1b"
    with pytest.raises(BadSignature) as info:
        recover_digest(DIGEST, signature)
    # r = 0 cannot recover, but the low-s check must not be the reason
    assert "upper half" not in info.value.message


@pytest.mark.parametrize(
    "signature",
    [
        bytes(64) + b"\x1b",  # r = s = 0
        SECP256K1_N.to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\x1c",  # r = n
        b"\xff" * 32 + (1).to_bytes(32, "big") + b"\x1b",  # r > n
    ],
)
def test_invalid_curve_values_are_bad_signature(signature: bytes) -> None:
    with pytest.raises(BadSignature):
        recover_digest(DIGEST, signature)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=65, max_size=65), st.binary(min_size=32, max_size=32))
def test_random_signatures_recover_or_raise_bad_signature(signature: bytes, digest: bytes) -> None:
    try:
        address = recover_digest(digest, signature)
    except BadSignature as exc:
        assert isinstance(exc, BadRequest)
        assert exc.status_code == 400
    else:
        assert address.startswith("0x")
        assert len(address) == 42


def test_parse_hex_signature_prefixed_and_bare() -> None:
    signature = sign_digest(KEY, DIGEST)
    assert parse_hex_signature("0x" + signature.hex()) == signature
    assert parse_hex_signature("0X" + signature.hex().upper()) == signature
    assert parse_hex_signature(signature.hex()) == signature
    assert parse_hex_signature("") == b""


@pytest.mark.parametrize("garbage", ["0xzz", "0x123", "hello", "0x" + "g" * 130, "0x0x00"])
def test_parse_hex_signature_refuses_garbage(garbage: str) -> None:
    with pytest.raises(BadSignature, match="not hex"):
        parse_hex_signature(garbage)


@settings(max_examples=200)
@given(st.text())
def test_parse_hex_signature_on_any_text_returns_bytes_or_bad_signature(text: str) -> None:
    try:
        parsed = parse_hex_signature(text)
    except BadSignature:
        return
    assert isinstance(parsed, bytes)


def test_random_key_signatures_do_not_collide() -> None:
    digest = os.urandom(32)
    assert sign_digest(KEY, digest) != sign_digest(bytes(OTHER.key), digest)
