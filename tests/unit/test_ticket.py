"""Ticket maths as go-livepeer and the TicketBroker do it: packing, auxData, winProb, rand."""

from __future__ import annotations

import os
from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest
from eth_abi.packed import encode_packed
from eth_utils.address import to_canonical_address, to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from tollway.protocol.ticket import (
    MAX_UINT256,
    Ticket,
    aux_data,
    derive_recipient_rand,
    is_winning,
    minimal_bytes,
    recipient_rand_hash,
    ticket_ev,
    win_prob_for,
)

RECIPIENT = to_checksum_address("0x" + "11" * 20)
SENDER = to_checksum_address("0x" + "22" * 20)
RAND_HASH = bytes(range(100, 132))
BLOCK_HASH = bytes(range(200, 232))

uint256 = st.integers(min_value=0, max_value=MAX_UINT256)
addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
hashes32 = st.binary(min_size=32, max_size=32)


def make_ticket(**changes: Any) -> Ticket:
    ticket = Ticket(
        recipient=RECIPIENT,
        sender=SENDER,
        face_value=1_200_000_000_000_000,
        win_prob=5 * 2**230 + 7,
        sender_nonce=42,
        recipient_rand_hash=RAND_HASH,
        creation_round=3_456,
        creation_round_block_hash=BLOCK_HASH,
    )
    return replace(ticket, **changes)


# --- packed encoding and hash (2.3) ------------------------------------------------------------


def test_packed_is_232_bytes_with_fields_at_documented_offsets() -> None:
    ticket = make_ticket()
    packed = ticket.packed()
    assert len(packed) == 232
    assert packed[0:20] == to_canonical_address(RECIPIENT)
    assert packed[20:40] == to_canonical_address(SENDER)
    assert int.from_bytes(packed[40:72], "big") == ticket.face_value
    assert int.from_bytes(packed[72:104], "big") == ticket.win_prob
    assert int.from_bytes(packed[104:136], "big") == 42
    assert packed[136:168] == RAND_HASH
    assert int.from_bytes(packed[168:200], "big") == 3_456
    assert packed[200:232] == BLOCK_HASH


@given(
    recipient=addresses,
    sender=addresses,
    face_value=uint256,
    win_prob=uint256,
    nonce=st.integers(min_value=0, max_value=2**32 - 1),
    rand_hash=hashes32,
    creation_round=st.integers(min_value=1, max_value=2**63 - 1),
    block_hash=hashes32,
)
def test_hash_is_keccak_of_solidity_encode_packed(
    recipient: str,
    sender: str,
    face_value: int,
    win_prob: int,
    nonce: int,
    rand_hash: bytes,
    creation_round: int,
    block_hash: bytes,
) -> None:
    ticket = Ticket(
        recipient, sender, face_value, win_prob, nonce, rand_hash, creation_round, block_hash
    )
    expected = encode_packed(
        ["address", "address", "uint256", "uint256", "uint256", "bytes32", "bytes"],
        [
            recipient,
            sender,
            face_value,
            win_prob,
            nonce,
            rand_hash,
            creation_round.to_bytes(32, "big") + block_hash,
        ],
    )
    assert ticket.packed() == expected
    assert len(expected) == 232
    assert ticket.hash() == keccak(expected)


def test_hash_changes_with_every_hashed_field() -> None:
    base = make_ticket().hash()
    changes: list[dict[str, Any]] = [
        {"recipient": SENDER},
        {"sender": RECIPIENT},
        {"face_value": 1},
        {"win_prob": 1},
        {"sender_nonce": 43},
        {"recipient_rand_hash": bytes(32)},
        {"creation_round": 3_457},
        {"creation_round_block_hash": bytes(31) + b"\x01"},
    ]
    for change in changes:
        assert make_ticket(**change).hash() != base, change


def test_contract_tuple_matches_solidity_struct_order() -> None:
    ticket = make_ticket(recipient=RECIPIENT.lower())
    assert ticket.as_contract_tuple() == (
        RECIPIENT,
        SENDER,
        ticket.face_value,
        ticket.win_prob,
        42,
        RAND_HASH,
        (3_456).to_bytes(32, "big") + BLOCK_HASH,
    )


# --- auxData (2.2) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("creation_round", "block_hash"),
    [(1, BLOCK_HASH), (0, BLOCK_HASH), (7, bytes(32)), (2**255, b"\xff" * 32)],
)
def test_aux_data_is_round_then_block_hash(creation_round: int, block_hash: bytes) -> None:
    aux = aux_data(creation_round, block_hash)
    assert len(aux) == 64
    assert aux[:32] == creation_round.to_bytes(32, "big")
    assert aux[32:] == block_hash


def test_aux_data_is_empty_only_when_round_and_hash_are_both_zero() -> None:
    assert aux_data(0, bytes(32)) == b""
    ticket = make_ticket(creation_round=0, creation_round_block_hash=bytes(32))
    assert ticket.aux_data == b""
    assert len(ticket.packed()) == 168


# --- minimal bytes (2.5, 2.13) ----------------------------------------------------------------


def test_minimal_bytes_examples() -> None:
    assert minimal_bytes(0) == b""
    assert minimal_bytes(1) == b"\x01"
    assert minimal_bytes(255) == b"\xff"
    assert minimal_bytes(256) == b"\x01\x00"
    assert minimal_bytes(MAX_UINT256) == b"\xff" * 32


@given(uint256)
def test_minimal_bytes_round_trips_without_leading_zero(value: int) -> None:
    data = minimal_bytes(value)
    assert int.from_bytes(data, "big") == value
    assert data == b"" or data[0] != 0


# --- winProb and ticket EV (2.6) --------------------------------------------------------------


def test_win_prob_is_certain_when_face_value_equals_ev() -> None:
    assert win_prob_for(8_000_000_000, 8_000_000_000) == MAX_UINT256
    assert win_prob_for(1, 1) == MAX_UINT256


@pytest.mark.parametrize(
    ("ev", "face_value"),
    [
        (8_000_000_000, 1_200_000_000_000_000),
        (1, 2),
        (1, 3),
        (7, 10**18),
        (10**9, 10**9 + 1),
    ],
)
def test_win_prob_is_ev_times_ceil_of_max_over_face_value(ev: int, face_value: int) -> None:
    ceil_ratio = (MAX_UINT256 + face_value - 1) // face_value
    assert win_prob_for(ev, face_value) == ev * ceil_ratio


def test_win_prob_worked_example_from_reference() -> None:
    win_prob = win_prob_for(8 * 10**9, 12 * 10**14)
    assert win_prob / 2**256 == pytest.approx(8e9 / 1.2e15, rel=1e-12)


@pytest.mark.parametrize(("ev", "face_value"), [(0, 10**15), (10**9, 0), (0, 0), (-1, 10), (5, -5)])
def test_win_prob_is_zero_for_zero_inputs(ev: int, face_value: int) -> None:
    assert win_prob_for(ev, face_value) == 0


@settings(max_examples=300)
@given(data=st.data(), face_value=st.integers(min_value=1, max_value=10**40))
def test_ticket_ev_matches_requested_ev(data: st.DataObject, face_value: int) -> None:
    ev = data.draw(st.integers(min_value=1, max_value=face_value))
    win_prob = win_prob_for(ev, face_value)
    assert 0 < win_prob <= MAX_UINT256
    actual = ticket_ev(face_value, win_prob)
    assert abs(actual - ev) / ev <= Fraction(1, 10**15)
    assert actual == Fraction(face_value * win_prob, MAX_UINT256)


def test_ticket_ev_uses_max_uint256_denominator() -> None:
    assert ticket_ev(10, MAX_UINT256) == 10
    assert make_ticket(face_value=10, win_prob=MAX_UINT256).expected_value == 10


# --- winning rule (2.4) -----------------------------------------------------------------------


def _lottery_number(signature: bytes, rand: int) -> int:
    return int.from_bytes(keccak(signature + rand.to_bytes(32, "big")), "big")


@given(st.binary(min_size=65, max_size=65), uint256)
def test_zero_win_prob_never_wins(signature: bytes, rand: int) -> None:
    assert is_winning(signature, rand, 0) is False


@given(st.binary(min_size=65, max_size=65), uint256)
def test_max_win_prob_wins(signature: bytes, rand: int) -> None:
    assert _lottery_number(signature, rand) < MAX_UINT256
    assert is_winning(signature, rand, MAX_UINT256) is True


@given(st.binary(min_size=65, max_size=65), uint256)
def test_winning_boundary_is_strictly_less_than(signature: bytes, rand: int) -> None:
    number = _lottery_number(signature, rand)
    assert is_winning(signature, rand, number) is False
    assert is_winning(signature, rand, number + 1) is True


def test_rand_is_encoded_as_32_bytes_in_the_lottery() -> None:
    signature = bytes(range(65))
    number = int.from_bytes(keccak(signature + (5).to_bytes(32, "big")), "big")
    short_number = int.from_bytes(keccak(signature + b"\x05"), "big")
    threshold = min(number, short_number) + 1
    assert is_winning(signature, 5, threshold) is (number < threshold)
    assert is_winning(signature, 5, threshold) is not (short_number < threshold)


# --- recipientRand (2.5) ----------------------------------------------------------------------

RAND_INPUTS: dict[str, Any] = {
    "seed": bytes(range(32)),
    "sender": SENDER,
    "face_value": 1_200_000_000_000_000,
    "win_prob": 5 * 2**230 + 7,
    "expiration_block": 1_040,
    "price_per_unit": 1_500,
    "pixels_per_unit": 1,
    "aux": aux_data(3_456, BLOCK_HASH),
}
SECRET = b"s" * 32


def test_recipient_rand_is_stable_for_the_same_inputs() -> None:
    first = derive_recipient_rand(SECRET, **RAND_INPUTS)
    assert derive_recipient_rand(bytes(SECRET), **dict(RAND_INPUTS)) == first
    lower = {**RAND_INPUTS, "sender": SENDER.lower()}
    assert derive_recipient_rand(SECRET, **lower) == first
    assert 0 <= first <= MAX_UINT256


def test_recipient_rand_uses_the_reduced_price() -> None:
    half = {**RAND_INPUTS, "price_per_unit": 1, "pixels_per_unit": 2}
    same_half = {**RAND_INPUTS, "price_per_unit": 500, "pixels_per_unit": 1_000}
    assert derive_recipient_rand(SECRET, **half) == derive_recipient_rand(SECRET, **same_half)
    zero_pixels = {**RAND_INPUTS, "pixels_per_unit": 0}
    assert derive_recipient_rand(SECRET, **zero_pixels) == derive_recipient_rand(
        SECRET, **RAND_INPUTS
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seed", bytes(range(1, 33))),
        ("seed", bytes(range(31))),
        ("sender", RECIPIENT),
        ("face_value", 1_200_000_000_000_001),
        ("face_value", 0),
        ("win_prob", 5 * 2**230 + 8),
        ("expiration_block", 1_041),
        ("price_per_unit", 1_501),
        ("pixels_per_unit", 7),
        ("aux", aux_data(3_457, BLOCK_HASH)),
        ("aux", b""),
    ],
)
def test_recipient_rand_changes_when_any_field_changes(field: str, value: object) -> None:
    changed = {**RAND_INPUTS, field: value}
    assert derive_recipient_rand(SECRET, **changed) != derive_recipient_rand(SECRET, **RAND_INPUTS)


def test_recipient_rand_changes_with_the_secret() -> None:
    assert derive_recipient_rand(b"t" * 32, **RAND_INPUTS) != derive_recipient_rand(
        SECRET, **RAND_INPUTS
    )


@pytest.mark.parametrize(
    "changes",
    [
        # one byte moved from the end of faceValue to the front of winProb
        {"face_value": 0x0102, "win_prob": 0x03},
        # one byte moved from the front of the price numerator to the end of expirationBlock
        {"expiration_block": 0x0410_06, "price_per_unit": 0xDC},
    ],
)
def test_recipient_rand_binds_field_boundaries(changes: dict[str, int]) -> None:
    """Different field values must give a different rand, even when their bytes concatenate alike.

    Otherwise the stateless params commitment lets a sender echo back a faceValue, winProb or
    expirationBlock the orchestrator never issued and still match recipientRandHash.
    """
    issued = {**RAND_INPUTS, "face_value": 0x01, "win_prob": 0x0203}
    issued_exp = {**RAND_INPUTS, "expiration_block": 0x0410, "price_per_unit": 0x06DC}
    original = issued if "face_value" in changes else issued_exp
    forged = {**original, **changes}
    assert forged != original
    assert derive_recipient_rand(SECRET, **forged) != derive_recipient_rand(SECRET, **original)


@given(st.integers(min_value=0, max_value=MAX_UINT256))
def test_recipient_rand_hash_is_keccak_of_32_byte_big_endian(rand: int) -> None:
    assert recipient_rand_hash(rand) == keccak(rand.to_bytes(32, "big"))
    assert len(recipient_rand_hash(rand)) == 32


def test_recipient_rand_hash_known_value() -> None:
    # keccak256(abi.encodePacked(uint256(0))) — the well-known hash of 32 zero bytes.
    assert recipient_rand_hash(0).hex() == (
        "290decd9548b62a8d60345a988386fc84ba6bc95484008f6362f93160ef3e563"
    )
    assert recipient_rand_hash(1) != keccak(b"\x01")


def test_random_secrets_give_unpredictable_rands() -> None:
    rands = {derive_recipient_rand(os.urandom(32), **RAND_INPUTS) for _ in range(20)}
    assert len(rands) == 20
