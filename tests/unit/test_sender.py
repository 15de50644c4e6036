"""The gateway's side of payments."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from math import ceil
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from tollway.errors import UnacceptableTicketParams
from tollway.payments.sender import (
    MAX_TICKETS_PER_PAYMENT,
    MIN_CREDIT_SECONDS,
    NonceStore,
    SenderLimits,
    TicketSender,
    check_params,
    tickets_needed,
)
from tollway.protocol.payment import TicketParams
from tollway.protocol.price import Price
from tollway.protocol.signing import recover_digest
from tollway.protocol.ticket import MAX_UINT256, win_prob_for

GATEWAY: LocalAccount = Account.create()
HASH_A = b"\xaa" * 32
HASH_B = b"\xbb" * 32


def make_params(**changes: Any) -> TicketParams:
    params = TicketParams(
        recipient=to_checksum_address("0x" + "12" * 20),
        face_value=10**12,
        win_prob=win_prob_for(10**9, 10**12),
        recipient_rand_hash=HASH_A,
        seed=b"\x01" * 32,
        expiration_block=1_040,
        creation_round=10,
        creation_round_block_hash=b"\x02" * 32,
    )
    return params.model_copy(update=changes)


@pytest.fixture
def nonces(tmp_path: Path) -> Iterator[NonceStore]:
    yield NonceStore(tmp_path / "nonces.db")


# --- NonceStore -------------------------------------------------------------------------------


def test_nonces_start_at_one_and_continue(nonces: NonceStore) -> None:
    assert list(nonces.allocate(HASH_A, 3)) == [1, 2, 3]
    assert list(nonces.allocate(HASH_A, 2)) == [4, 5]
    assert list(nonces.allocate(HASH_A, 1)) == [6]


def test_nonces_are_independent_per_params(nonces: NonceStore) -> None:
    assert list(nonces.allocate(HASH_A, 2)) == [1, 2]
    assert list(nonces.allocate(HASH_B, 3)) == [1, 2, 3]
    assert list(nonces.allocate(HASH_A, 1)) == [3]
    assert list(nonces.allocate(HASH_B, 1)) == [4]


def test_zero_nonces_allocate_nothing(nonces: NonceStore) -> None:
    assert list(nonces.allocate(HASH_A, 0)) == []
    assert list(nonces.allocate(HASH_A, 1)) == [1]


def test_nonces_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "nonces.db"
    assert list(NonceStore(path).allocate(HASH_A, 4)) == [1, 2, 3, 4]
    reopened = NonceStore(path)
    assert list(reopened.allocate(HASH_A, 2)) == [5, 6]
    assert list(reopened.allocate(HASH_B, 1)) == [1]


def test_two_stores_on_one_file_never_hand_out_the_same_nonce(tmp_path: Path) -> None:
    first, second = NonceStore(tmp_path / "n.db"), NonceStore(tmp_path / "n.db")
    seen: list[int] = []
    for _ in range(5):
        seen.extend(first.allocate(HASH_A, 2))
        seen.extend(second.allocate(HASH_A, 3))
    assert sorted(seen) == list(range(1, 26))


# --- tickets_needed ---------------------------------------------------------------------------

PRICE = Price(price_per_unit=1_000_000_000)  # 1e9 wei/s


def _ev(params: TicketParams) -> Fraction:
    return Fraction(params.face_value * params.win_prob, MAX_UINT256)


def test_zero_price_needs_no_tickets() -> None:
    assert tickets_needed(Price(price_per_unit=0), 120, 0, make_params()) == 0


def test_zero_win_prob_needs_no_tickets() -> None:
    assert tickets_needed(PRICE, 120, 0, make_params(win_prob=0)) == 0


def test_zero_face_value_needs_no_tickets() -> None:
    """Zero-EV params (faceValue 0) must not crash the payment activity with ZeroDivisionError."""
    assert tickets_needed(PRICE, 120, 0, make_params(face_value=0)) == 0


@pytest.mark.parametrize("timeout", [1, 30, 60])
def test_balance_covering_a_minute_needs_no_tickets_for_short_jobs(timeout: int) -> None:
    covered = MIN_CREDIT_SECONDS * PRICE.price_per_unit
    assert tickets_needed(PRICE, timeout, covered, make_params()) == 0
    assert tickets_needed(PRICE, timeout, covered + 1, make_params()) == 0
    assert tickets_needed(PRICE, timeout, covered - 1, make_params()) == 1


def test_balance_covering_the_timeout_needs_no_tickets() -> None:
    assert tickets_needed(PRICE, 120, 120 * PRICE.price_per_unit, make_params()) == 0
    assert tickets_needed(PRICE, 120, 120 * PRICE.price_per_unit - 1, make_params()) >= 1


def test_reference_worked_example() -> None:
    """1e9 wei/s for 120 s with an EV of ~8e9 wei: 15 tickets."""
    params = make_params(face_value=12 * 10**14, win_prob=win_prob_for(8 * 10**9, 12 * 10**14))
    assert tickets_needed(PRICE, 120, 0, params) == 15


def test_count_is_ceil_of_shortfall_over_ev() -> None:
    params = make_params()
    ev = _ev(params)
    shortfall = 120 * PRICE.price_per_unit - 5 * 10**9
    assert tickets_needed(PRICE, 120, 5 * 10**9, params) == ceil(shortfall / ev)


def test_params_without_a_round_block_hash_are_refused() -> None:
    """Empty auxData cannot be redeemed on Livepeer's TicketBroker: no ticket is signed."""
    params = make_params(creation_round=0, creation_round_block_hash=b"\x00" * 32)
    with pytest.raises(UnacceptableTicketParams, match="no block hash"):
        check_params(params, 1, SenderLimits())


def test_more_than_600_tickets_is_refused_not_truncated() -> None:
    """600 tickets of tiny EV cannot buy the minimum: the candidate is refused, because a
    truncated batch would only earn an InsufficientCredit from the orchestrator."""
    params = make_params(face_value=10**12, win_prob=win_prob_for(1, 10**12))
    with pytest.raises(UnacceptableTicketParams, match="600 tickets cannot buy"):
        tickets_needed(PRICE, 3_600, 0, params)
    just_enough = make_params(face_value=10**12, win_prob=win_prob_for(PRICE.cost(1), 10**12))
    assert tickets_needed(PRICE, 600, 0, just_enough) == MAX_TICKETS_PER_PAYMENT


def test_at_least_one_ticket_when_short() -> None:
    huge_ev = make_params(face_value=10**20, win_prob=MAX_UINT256)
    assert tickets_needed(PRICE, 60, 60 * PRICE.price_per_unit - 1, huge_ev) == 1


@given(
    price=st.integers(min_value=1, max_value=10**12),
    pixels=st.integers(min_value=1, max_value=1_000),
    timeout=st.integers(min_value=1, max_value=3_600),
    balance=st.integers(min_value=-(10**16), max_value=10**16),
    face_value=st.integers(min_value=1, max_value=10**18),
    ev=st.integers(min_value=1, max_value=10**15),
)
def test_tickets_needed_matches_formula(
    price: int, pixels: int, timeout: int, balance: int, face_value: int, ev: int
) -> None:
    win_prob = win_prob_for(min(ev, face_value), face_value)
    params = make_params(face_value=face_value, win_prob=win_prob)
    cost = Price(price_per_unit=price, pixels_per_unit=pixels)
    required = price * max(timeout, MIN_CREDIT_SECONDS) // pixels
    shortfall = required - balance
    if shortfall > 0 and ceil(shortfall / _ev(params)) > 600:
        with pytest.raises(UnacceptableTicketParams):
            tickets_needed(cost, timeout, balance, params)
        return
    count = tickets_needed(cost, timeout, balance, params)
    if shortfall <= 0:
        assert count == 0
    else:
        assert count == max(1, ceil(shortfall / _ev(params)))
        assert 1 <= count <= 600
        # the credit bought covers the shortfall, and one ticket fewer would not
        assert count * _ev(params) >= shortfall
        assert (count - 1) * _ev(params) < shortfall


# --- TicketSender -----------------------------------------------------------------------------


def test_batch_signs_tickets_that_recover_to_the_sender(nonces: NonceStore) -> None:
    sender = TicketSender(bytes(GATEWAY.key), GATEWAY.address, nonces)
    params = make_params()
    batch = sender.batch(params, PRICE, 4)
    payment = batch.payment
    assert payment.sender == GATEWAY.address
    assert payment.params == params
    assert payment.expected_price == PRICE
    assert [t.sender_nonce for t in payment.tickets] == [1, 2, 3, 4]
    for signed in payment.tickets:
        ticket = params.ticket(GATEWAY.address, signed.sender_nonce)
        assert len(signed.sig) == 65
        assert recover_digest(ticket.hash(), signed.sig) == GATEWAY.address
    assert len({t.sig for t in payment.tickets}) == 4


def test_batch_ev_matches_ticket_ev(nonces: NonceStore) -> None:
    sender = TicketSender(bytes(GATEWAY.key), GATEWAY.address, nonces)
    params = make_params()
    batch = sender.batch(params, PRICE, 7)
    assert batch.ev_wei == 7 * params.face_value * params.win_prob // MAX_UINT256
    assert batch.ev_wei == int(7 * _ev(params))
    assert batch.ev_wei >= 7 * 10**9


def test_batches_continue_nonces_for_the_same_params(nonces: NonceStore) -> None:
    sender = TicketSender(bytes(GATEWAY.key), GATEWAY.address, nonces)
    params = make_params()
    sender.batch(params, PRICE, 2)
    second = sender.batch(params, PRICE, 3)
    assert [t.sender_nonce for t in second.payment.tickets] == [3, 4, 5]
    other = sender.batch(make_params(recipient_rand_hash=HASH_B), PRICE, 1)
    assert [t.sender_nonce for t in other.payment.tickets] == [1]
