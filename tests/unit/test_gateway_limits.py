"""The gateway's defences against a greedy or broken orchestrator: sender-side limits, the
credit mirror, and tolerant token parsing (all in-memory; SQLite in tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from tollway.errors import UnacceptableTicketParams
from tollway.market.selection import Candidate, candidate_from_token
from tollway.payments.sender import SenderLimits, check_params
from tollway.payments.spend import SettleInput, SpendLedger
from tollway.protocol.payment import TicketParams
from tollway.protocol.ticket import MAX_UINT256, win_prob_for
from tollway.protocol.token import JobToken

ORCHESTRATOR = str(Account.create().address)


def params(face_value: int, win_prob: int) -> TicketParams:
    return TicketParams(
        recipient=ORCHESTRATOR,
        face_value=face_value,
        win_prob=win_prob,
        recipient_rand_hash=b"\x01" * 32,
        seed=b"\x02" * 32,
        expiration_block=100,
        creation_round=1,
        creation_round_block_hash=b"\x03" * 32,
    )


LIMITS = SenderLimits(max_ticket_ev_wei=10**9, max_total_ev_wei=10**10, max_face_value_wei=10**15)


def test_params_within_limits_pass() -> None:
    check_params(params(10**12, win_prob_for(10**9, 10**12)), 10, LIMITS)


@pytest.mark.parametrize(
    ("face_value", "win_prob", "count", "problem"),
    [
        (10 * 10**18, MAX_UINT256, 1, "face value"),  # a certain 10 ETH ticket
        (10**12, win_prob_for(2 * 10**9, 10**12), 1, "ticket EV"),
        (10**12, win_prob_for(10**9, 10**12), 11, "batch EV"),
    ],
)
def test_greedy_params_are_refused(
    face_value: int, win_prob: int, count: int, problem: str
) -> None:
    with pytest.raises(UnacceptableTicketParams, match=problem):
        check_params(params(face_value, win_prob), count, LIMITS)


def settle(ledger: SpendLedger, job: str, cost: int) -> bool:
    return ledger.record(
        SettleInput(
            job_id=job,
            tenant="default",
            capability="echo",
            orchestrator="http://o",
            orchestrator_address=ORCHESTRATOR,
            cost_wei=cost,
            tickets=1,
            ev_wei=0,
        )
    )


def test_reported_balance_is_trusted_only_up_to_the_mirror(tmp_path: Path) -> None:
    ledger = SpendLedger(tmp_path / "spend.db")
    assert ledger.trusted_balance(ORCHESTRATOR, "echo", 10**18) == 0  # we never paid it
    ledger.paid(ORCHESTRATOR, "echo", 1_000)
    assert ledger.trusted_balance(ORCHESTRATOR, "echo", 10**18) == 1_000
    assert ledger.trusted_balance(ORCHESTRATOR, "echo", 400) == 400  # an honest lower report
    assert settle(ledger, "job-1", 300)
    assert not settle(ledger, "job-1", 300)  # settled once
    assert ledger.trusted_balance(ORCHESTRATOR, "echo", 10**18) == 700
    reopened = SpendLedger(tmp_path / "spend.db")
    assert reopened.trusted_balance(ORCHESTRATOR, "echo", 10**18) == 700
    assert reopened.trusted_balance(ORCHESTRATOR, "other", 10**18) == 0
    assert reopened.total_wei("default") == 300


def test_concurrent_jobs_do_not_count_the_same_credit_twice(tmp_path: Path) -> None:
    """Two jobs in flight with one orchestrator: the second sees only what the first does not
    hold, so it buys its own credit rather than being refused for "insufficient balance"."""
    ledger = SpendLedger(tmp_path / "spend.db")
    ledger.paid(ORCHESTRATOR, "echo", 1_000)
    assert ledger.reserve("job-a", ORCHESTRATOR, "echo", 1_000, 600, ttl_seconds=60) == 1_000
    assert ledger.reserve("job-b", ORCHESTRATOR, "echo", 1_000, 600, ttl_seconds=60) == 400
    assert ledger.reserve("job-c", ORCHESTRATOR, "echo", 1_000, 600, ttl_seconds=60) == 0
    # A job's new attempt replaces its own hold rather than adding to it.
    assert ledger.reserve("job-c", ORCHESTRATOR, "echo", 1_000, 600, ttl_seconds=60) == 0
    assert ledger.reserve("job-z", ORCHESTRATOR, "other", 1_000, 600, ttl_seconds=60) == 0
    ledger.release("job-a")
    ledger.release("job-b")
    assert ledger.reserve("job-d", ORCHESTRATOR, "echo", 1_000, 600, ttl_seconds=60) == 400


def test_holds_lapse_after_their_ttl(tmp_path: Path) -> None:
    ledger = SpendLedger(tmp_path / "spend.db")
    ledger.paid(ORCHESTRATOR, "echo", 1_000)
    ledger.reserve("crashed", ORCHESTRATOR, "echo", 1_000, 1_000, ttl_seconds=-1)
    assert ledger.reserve("next", ORCHESTRATOR, "echo", 1_000, 500, ttl_seconds=60) == 1_000


def token(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ticket_params": params(10**12, win_prob_for(10**9, 10**12)).to_json(),
        "price": {"pricePerUnit": 5, "pixelsPerUnit": 1},
        "available_capacity": 2,
        "balance": 7,
    }
    return {**base, **changes}


def _candidate(url: str, raw: dict[str, Any]) -> Candidate:
    return candidate_from_token(url, JobToken.from_json(raw), score=0.0)


def test_a_good_token_becomes_a_candidate_with_canonical_params() -> None:
    raw = token()
    raw["ticket_params"]["junk"] = "x" * 1000  # extra keys never reach workflow history
    candidate = _candidate("http://o", raw)
    assert candidate.address == ORCHESTRATOR
    assert (candidate.price_per_unit, candidate.capacity, candidate.balance_wei) == (5, 2, 7)
    assert candidate.ticket_params is not None and "junk" not in candidate.ticket_params


def test_a_free_orchestrator_needs_no_params() -> None:
    candidate = _candidate("http://o", token(ticket_params=None, price={"pricePerUnit": 0}))
    assert candidate.ticket_params is None and candidate.price_per_unit == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"available_capacity": json.loads("1e400")},
        {"available_capacity": True},
        {"balance": 2**70},
        {"price": {"pricePerUnit": 2**64}},
        {"price": {"pricePerUnit": -1}},
        {"price": {"pricePerUnit": 1, "pixelsPerUnit": 0}},
        {"ticket_params": None},
        {"ticket_params": {"recipient": "!!"}},
    ],
)
def test_malformed_tokens_are_refused_with_a_value_error_or_bad_payment(
    bad: dict[str, Any],
) -> None:
    with pytest.raises(Exception) as refused:
        _candidate("http://o", token(**bad))
    assert type(refused.value).__name__ in ("ValueError", "BadPayment")
