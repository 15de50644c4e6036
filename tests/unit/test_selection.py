"""Job-token checks (capacity, price cap) and include/exclude parsing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tollway.errors import BadRequest
from tollway.market.selection import Candidate, filter_tokens, price_per_unit
from tollway.protocol.header import JobParameters


def candidate(url: str, price: int = 100, capacity: int = 1, pixels: int = 1) -> Candidate:
    return Candidate(
        url=url,
        address="0x" + "12" * 20,
        price_per_unit=price,
        pixels_per_unit=pixels,
        capacity=capacity,
        balance_wei=0,
        ticket_params={},
    )


# --- filter_tokens --------------------------------------------------------------------------


def test_capacity_zero_is_refused_with_a_reason() -> None:
    chosen, refused = filter_tokens([candidate("https://full", capacity=0)], {})
    assert chosen == []
    assert len(refused) == 1
    assert refused[0].orchestrator == "https://full"
    assert refused[0].stage == "select"
    assert "capacity" in refused[0].reason


def test_a_full_orchestrator_that_queues_is_tried_last_not_refused() -> None:
    busy = candidate("https://busy", price=1, capacity=0).model_copy(update={"queues": True})
    free = candidate("https://free", price=5)
    chosen, refused = filter_tokens([busy, free], {})
    assert [c.url for c in chosen] == ["https://free", "https://busy"]
    assert refused == []


def test_negative_capacity_is_refused() -> None:
    chosen, refused = filter_tokens([candidate("https://odd", capacity=-1)], {})
    assert chosen == []
    assert [a.orchestrator for a in refused] == ["https://odd"]


def test_over_cap_is_refused_with_a_reason_naming_the_cap() -> None:
    chosen, refused = filter_tokens(
        [candidate("https://dear", price=1_001), candidate("https://ok", price=1_000)],
        {"second": 1_000},
    )
    assert [c.url for c in chosen] == ["https://ok"]  # exactly at the cap is accepted
    assert len(refused) == 1
    attempt = refused[0]
    assert attempt.orchestrator == "https://dear"
    assert attempt.stage == "select"
    assert "1000" in attempt.reason.replace(",", "")
    assert "1001" in attempt.reason.replace(",", "")
    assert "cap" in attempt.reason


def test_over_cap_reason_states_the_per_second_price() -> None:
    """With pixelsPerUnit != 1 the refusal must quote wei/s, not the raw pricePerUnit."""
    dear = candidate("https://dear", price=5_000, pixels=1_000)  # 5 wei/s
    chosen, refused = filter_tokens([dear], {"second": 4})
    assert chosen == []
    assert re.search(r"\b5 wei/s", refused[0].reason), refused[0].reason


def test_no_cap_accepts_any_price() -> None:
    chosen, refused = filter_tokens([candidate("https://a", price=10**18)], {})
    assert [c.url for c in chosen] == ["https://a"]
    assert refused == []


def test_cap_of_zero_only_accepts_free() -> None:
    chosen, refused = filter_tokens(
        [candidate("https://free", price=0), candidate("https://paid", price=1)], {"second": 0}
    )
    assert [c.url for c in chosen] == ["https://free"]
    assert [a.orchestrator for a in refused] == ["https://paid"]


def test_order_is_kept_and_only_refusals_removed() -> None:
    """Ordering is the scorer's job; token checks must not reorder what it drew."""
    candidates = [
        candidate("https://c", price=300),
        candidate("https://b", price=100),
        candidate("https://full", price=1, capacity=0),
        candidate("https://a", price=100),
        candidate("https://d", price=150, pixels=2),  # 75 wei/s
    ]
    chosen, refused = filter_tokens(candidates, {"second": 1_000})
    assert [c.url for c in chosen] == ["https://c", "https://b", "https://a", "https://d"]
    assert [a.orchestrator for a in refused] == ["https://full"]


def test_price_per_unit_uses_pixels_per_unit() -> None:
    assert price_per_unit(candidate("x", price=3, pixels=2)) * 2 == 3
    assert price_per_unit(candidate("x", price=3, pixels=0)) == 3


def test_fractional_price_just_over_the_cap_is_refused() -> None:
    chosen, refused = filter_tokens(
        [candidate("https://x", price=2_001, pixels=2)], {"second": 1_000}
    )
    assert chosen == []
    assert len(refused) == 1


# --- JobParameters ----------------------------------------------------------------------------


def orchestrator_filter(parameters: str) -> tuple[list[str], list[str]]:
    parsed = JobParameters.parse(parameters)
    return parsed.include, parsed.exclude


def test_filter_include_and_exclude() -> None:
    parameters = json.dumps(
        {
            "orchestrators": {
                "include": ["https://o1:8935", "https://o2:8935"],
                "exclude": ["https://o3:8935"],
            }
        }
    )
    assert orchestrator_filter(parameters) == (
        ["https://o1:8935", "https://o2:8935"],
        ["https://o3:8935"],
    )


@pytest.mark.parametrize(
    "parameters",
    [
        "{}",
        "",
        "null",
        '{"orchestrators": {}}',
        '{"orchestrators": null}',
        '{"orchestrators": {"include": null, "exclude": []}}',
        '{"enable_video_ingress": true}',
    ],
)
def test_filter_empty(parameters: str) -> None:
    assert orchestrator_filter(parameters) == ([], [])


def test_filter_include_only_and_exclude_only() -> None:
    assert orchestrator_filter('{"orchestrators": {"include": ["https://a"]}}') == (
        ["https://a"],
        [],
    )
    assert orchestrator_filter('{"orchestrators": {"exclude": ["https://b"]}}') == (
        [],
        ["https://b"],
    )


@pytest.mark.parametrize(
    "orchestrators",
    [
        ["https://o1:8935"],
        "https://o1:8935",
        {"include": "https://o1:8935"},
        {"exclude": "https://o1:8935"},
        {"include": [1, 2]},
    ],
)
def test_filter_refuses_malformed_orchestrators_as_bad_request(orchestrators: Any) -> None:
    """It runs inside the job workflow: a malformed shape must be a non-retryable BadRequest,
    not an AttributeError (workflow task failure, retried forever) nor a string split into
    single-character "URLs" that then match no orchestrator."""
    with pytest.raises(BadRequest):
        orchestrator_filter(json.dumps({"orchestrators": orchestrators}))
