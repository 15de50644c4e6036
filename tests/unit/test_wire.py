"""Ticket params and payments on the wire."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from eth_utils.address import to_canonical_address, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tollway.errors import BadPayment
from tollway.protocol import lp_rpc_pb2 as pb
from tollway.protocol.payment import Payment, SignedTicket, TicketParams
from tollway.protocol.price import Price
from tollway.protocol.ticket import MAX_UINT256, minimal_bytes

RECIPIENT = to_checksum_address("0x" + "ab" * 20)
SENDER = to_checksum_address("0x" + "cd" * 20)

uint256 = st.one_of(
    st.sampled_from([0, 1, 255, 256, MAX_UINT256]),
    st.integers(min_value=0, max_value=MAX_UINT256),
)
addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
int64_non_negative = st.integers(min_value=0, max_value=2**63 - 1)

ticket_params = st.builds(
    TicketParams,
    recipient=addresses,
    face_value=uint256,
    win_prob=uint256,
    recipient_rand_hash=st.binary(min_size=32, max_size=32),
    seed=st.binary(max_size=64),
    expiration_block=uint256,
    creation_round=int64_non_negative,
    creation_round_block_hash=st.binary(min_size=32, max_size=32),
)
signed_tickets = st.lists(
    st.builds(
        SignedTicket,
        sender_nonce=st.integers(min_value=0, max_value=2**32 - 1),
        sig=st.binary(min_size=65, max_size=65),
    ),
    max_size=8,
)
prices = st.builds(
    Price,
    price_per_unit=int64_non_negative,
    pixels_per_unit=st.integers(min_value=1, max_value=2**63 - 1),
)
payments = st.builds(
    Payment, sender=addresses, params=ticket_params, tickets=signed_tickets, expected_price=prices
)


def make_params(**changes: Any) -> TicketParams:
    params = TicketParams(
        recipient=RECIPIENT,
        face_value=1_200_000_000_000_000,
        win_prob=MAX_UINT256 // 150_000,
        recipient_rand_hash=bytes(range(32)),
        seed=bytes(range(32, 64)),
        expiration_block=20_000_040,
        creation_round=3_456,
        creation_round_block_hash=bytes(range(64, 96)),
    )
    return params.model_copy(update=changes)


def make_payment(**changes: Any) -> Payment:
    payment = Payment(
        sender=SENDER,
        params=make_params(),
        tickets=[SignedTicket(sender_nonce=n, sig=bytes([n]) * 65) for n in (1, 2, 3)],
        expected_price=Price(price_per_unit=1_500, pixels_per_unit=1),
    )
    return payment.model_copy(update=changes)


def proto_of(payment: Payment) -> pb.Payment:
    message = pb.Payment()
    message.ParseFromString(base64.b64decode(payment.encode()))
    return message


def header_of(message: pb.Payment) -> str:
    return base64.b64encode(message.SerializeToString()).decode()


# --- round trips ------------------------------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(payments)
def test_payment_encode_decode_round_trips_every_field(payment: Payment) -> None:
    decoded = Payment.decode(payment.encode())
    assert decoded == payment
    assert decoded.sender == payment.sender
    assert decoded.params.face_value == payment.params.face_value
    assert decoded.params.win_prob == payment.params.win_prob
    assert decoded.params.expiration_block == payment.params.expiration_block
    assert [t.sender_nonce for t in decoded.tickets] == [t.sender_nonce for t in payment.tickets]
    assert decoded.expected_price == payment.expected_price


def test_payment_header_is_standard_base64_protobuf_with_minimal_uint256() -> None:
    payment = make_payment(params=make_params(face_value=256, win_prob=0, expiration_block=1))
    message = proto_of(payment)
    assert message.sender == to_canonical_address(SENDER)
    assert message.ticket_params.recipient == to_canonical_address(RECIPIENT)
    assert message.ticket_params.face_value == b"\x01\x00"
    assert message.ticket_params.win_prob == b""
    assert message.ticket_params.expiration_block == b"\x01"
    assert message.expiration_params.creation_round == 3_456
    assert message.ticket_params.expiration_params.creation_round == 3_456
    assert [t.sender_nonce for t in message.ticket_sender_params] == [1, 2, 3]
    assert message.expected_price.pricePerUnit == 1_500
    assert message.expected_price.pixelsPerUnit == 1


def test_payment_decode_tolerates_surrounding_whitespace() -> None:
    payment = make_payment()
    assert Payment.decode("  " + payment.encode() + "\n") == payment


def test_payment_decode_falls_back_to_params_expiration() -> None:
    message = proto_of(make_payment())
    message.ClearField("expiration_params")
    decoded = Payment.decode(header_of(message))
    assert decoded.params.creation_round == 3_456
    assert decoded.params.creation_round_block_hash == bytes(range(64, 96))


def test_payment_decode_zero_pixels_per_unit_means_one() -> None:
    message = proto_of(make_payment())
    message.expected_price.pixelsPerUnit = 0
    assert Payment.decode(header_of(message)).expected_price.pixels_per_unit == 1


@settings(max_examples=200)
@given(ticket_params)
def test_ticket_params_json_round_trip(params: TicketParams) -> None:
    data = params.to_json()
    assert TicketParams.from_json(json.loads(json.dumps(data))) == params


def test_token_json_byte_fields_are_standard_base64_of_minimal_big_endian() -> None:
    params = make_params(face_value=0xFBFF, win_prob=MAX_UINT256, expiration_block=0)
    data = params.to_json()
    assert data["recipient"] == base64.b64encode(to_canonical_address(RECIPIENT)).decode()
    assert data["face_value"] == "+/8="  # standard alphabet, padded
    assert data["win_prob"] == base64.b64encode(b"\xff" * 32).decode()
    assert data["expiration_block"] == ""
    assert data["recipient_rand_hash"] == base64.b64encode(bytes(range(32))).decode()
    assert data["seed"] == base64.b64encode(bytes(range(32, 64))).decode()
    assert data["expiration_params"] == {
        "creation_round": 3_456,
        "creation_round_block_hash": base64.b64encode(bytes(range(64, 96))).decode(),
    }
    for value in (1, 255, 256, 2**64, MAX_UINT256 // 3):
        encoded = make_params(face_value=value).to_json()["face_value"]
        assert base64.b64decode(encoded) == minimal_bytes(value)


def test_ticket_params_from_go_style_json() -> None:
    data = {
        "recipient": base64.b64encode(b"\x11" * 20).decode(),
        "face_value": "AQA=",
        "win_prob": "Ag==",
        "recipient_rand_hash": base64.b64encode(b"\x22" * 32).decode(),
        "seed": base64.b64encode(b"\x33" * 32).decode(),
        "expiration_block": "AYah",
        "expiration_params": {
            "creation_round": 12,
            "creation_round_block_hash": base64.b64encode(b"\x44" * 32).decode(),
        },
    }
    params = TicketParams.from_json(data)
    assert params.recipient == to_checksum_address("0x" + "11" * 20)
    assert params.face_value == 256
    assert params.win_prob == 2
    assert params.expiration_block == 0x0186A1
    assert params.creation_round == 12
    assert params.creation_round_block_hash == b"\x44" * 32


def test_ticket_params_from_json_refuses_urlsafe_base64() -> None:
    data = make_params(face_value=0xFBFF).to_json()
    data["face_value"] = "-_8="
    with pytest.raises(BadPayment) as info:
        TicketParams.from_json(data)
    assert info.value.details["field"] == "face_value"


@pytest.mark.parametrize(
    "data",
    [
        {},
        [],
        "x",
        {"recipient": 5},
        {"recipient": base64.b64encode(b"\x11" * 19).decode(), "recipient_rand_hash": ""},
        {
            "recipient": base64.b64encode(b"\x11" * 20).decode(),
            "recipient_rand_hash": base64.b64encode(b"\x22" * 31).decode(),
        },
        {
            "recipient": base64.b64encode(b"\x11" * 20).decode(),
            "recipient_rand_hash": base64.b64encode(b"\x22" * 32).decode(),
            "expiration_params": {"creation_round": "twelve"},
        },
        {
            "recipient": base64.b64encode(b"\x11" * 20).decode(),
            "recipient_rand_hash": base64.b64encode(b"\x22" * 32).decode(),
            "face_value": base64.b64encode(b"\x01" * 33).decode(),
        },
    ],
)
def test_ticket_params_from_json_garbage_is_bad_payment(data: Any) -> None:
    with pytest.raises(BadPayment):
        TicketParams.from_json(data)


# --- garbage headers --------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["", "   ", "not base64!!", "abc", "é", "AAAA=BBB", "-_-_"])
def test_non_base64_header_is_bad_payment(header: str) -> None:
    with pytest.raises(BadPayment):
        Payment.decode(header)


def test_base64_of_random_bytes_is_bad_payment() -> None:
    with pytest.raises(BadPayment):
        Payment.decode(base64.b64encode(b"\xff\xfe\xfd\xfc random junk \x00\x01").decode())


def test_truncated_protobuf_is_bad_payment() -> None:
    raw = base64.b64decode(make_payment().encode())
    with pytest.raises(BadPayment) as info:
        Payment.decode(base64.b64encode(raw[:-1]).decode())
    assert info.value.details["field"] == "payment"


def test_every_truncation_decodes_or_is_bad_payment() -> None:
    raw = base64.b64decode(make_payment().encode())
    refused = 0
    for cut in range(len(raw)):
        try:
            Payment.decode(base64.b64encode(raw[:cut]).decode())
        except BadPayment:
            refused += 1
    assert refused >= len(raw) - 10


def test_19_byte_sender_is_bad_payment() -> None:
    message = proto_of(make_payment())
    message.sender = b"\x01" * 19
    with pytest.raises(BadPayment) as info:
        Payment.decode(header_of(message))
    assert info.value.details["field"] == "sender"


def test_31_byte_recipient_rand_hash_is_bad_payment() -> None:
    message = proto_of(make_payment())
    message.ticket_params.recipient_rand_hash = b"\x01" * 31
    with pytest.raises(BadPayment) as info:
        Payment.decode(header_of(message))
    assert info.value.details["field"] == "recipient_rand_hash"


def test_19_byte_recipient_is_bad_payment() -> None:
    message = proto_of(make_payment())
    message.ticket_params.recipient = b"\x01" * 19
    with pytest.raises(BadPayment) as info:
        Payment.decode(header_of(message))
    assert info.value.details["field"] == "recipient"


@pytest.mark.parametrize("field", ["face_value", "win_prob"])
def test_uint256_longer_than_32_bytes_is_bad_payment(field: str) -> None:
    message = proto_of(make_payment())
    setattr(message.ticket_params, field, b"\x01" * 33)
    with pytest.raises(BadPayment):
        Payment.decode(header_of(message))


def test_block_hash_of_wrong_length_is_bad_payment() -> None:
    message = proto_of(make_payment())
    message.expiration_params.creation_round_block_hash = b"\x01" * 31
    with pytest.raises(BadPayment):
        Payment.decode(header_of(message))


def test_missing_ticket_params_is_bad_payment() -> None:
    message = proto_of(make_payment())
    message.ClearField("ticket_params")
    with pytest.raises(BadPayment) as info:
        Payment.decode(header_of(message))
    assert info.value.details["field"] == "ticket_params"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("expiration_params", "creation_round"), -1),
        (("expected_price", "pricePerUnit"), -1_500),
        (("expected_price", "pixelsPerUnit"), -1),
    ],
)
def test_negative_int64_fields_are_bad_payment(path: tuple[str, str], value: int) -> None:
    """int64 fields are sender-controlled; a negative round or price is not a valid payment.

    Accepting them lets a decoded payment reach `TicketRecipient.receive`, where `aux_data` /
    `minimal_bytes` raise OverflowError on the negative value (a 500, not a 400).
    """
    message = proto_of(make_payment())
    setattr(getattr(message, path[0]), path[1], value)
    if path[0] == "expiration_params":
        message.ticket_params.expiration_params.creation_round = value
    with pytest.raises(BadPayment):
        Payment.decode(header_of(message))


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_decode_of_random_bytes_decodes_or_raises_bad_payment(data: bytes) -> None:
    try:
        payment = Payment.decode(base64.b64encode(data).decode())
    except BadPayment as exc:
        assert exc.status_code == 400
    else:
        assert len(payment.params.recipient_rand_hash) == 32
        assert len(to_canonical_address(payment.sender)) == 20


@settings(max_examples=500)
@given(st.text(max_size=300))
def test_decode_of_random_text_decodes_or_raises_bad_payment(text: str) -> None:
    try:
        Payment.decode(text)
    except BadPayment as exc:
        assert exc.status_code == 400


@settings(max_examples=300)
@given(st.data())
def test_decode_of_mutated_valid_payment_decodes_or_raises_bad_payment(data: st.DataObject) -> None:
    raw = bytearray(base64.b64decode(make_payment().encode()))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[index] = data.draw(st.integers(min_value=0, max_value=255))
    try:
        Payment.decode(base64.b64encode(bytes(raw)).decode())
    except BadPayment as exc:
        assert exc.status_code == 400


# --- price ------------------------------------------------------------------------------------


def test_price_json_is_camel_case() -> None:
    price = Price(price_per_unit=7, pixels_per_unit=2)
    assert price.to_json() == {"pricePerUnit": 7, "pixelsPerUnit": 2}
    assert Price.from_json(price.to_json()) == price
    assert Price.from_json({"pricePerUnit": 3, "pixelsPerUnit": 0}).pixels_per_unit == 1
    assert Price.from_json({}) == Price(price_per_unit=0, pixels_per_unit=1)


def test_price_cost_floors() -> None:
    assert Price(price_per_unit=7, pixels_per_unit=2).cost(3) == 10
    assert Price(price_per_unit=1_000, pixels_per_unit=1).cost(60) == 60_000
