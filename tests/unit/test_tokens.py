"""tollway.market.tokens: job tokens reused briefly, their balance following the answers."""

from __future__ import annotations

import time

from tollway.market.selection import Candidate
from tollway.market.tokens import RecentTokens


def candidate(url: str = "http://o", balance: int = 100) -> Candidate:
    return Candidate(
        url=url, address="0x" + "11" * 20, price_per_unit=1, capacity=1, balance_wei=balance,
        ticket_params={"seed": "0x01"},
    )  # fmt: skip


def test_a_token_is_reused_until_it_is_old_or_forgotten() -> None:
    tokens = RecentTokens(reuse_seconds=0.05)
    tokens.keep(candidate(), "echo")
    assert tokens.get("http://o", "echo") == candidate()
    assert tokens.get("http://o", "other") is None
    time.sleep(0.06)
    assert tokens.get("http://o", "echo") is None
    tokens.keep(candidate(), "echo")
    tokens.forget("http://o", "echo")
    assert tokens.get("http://o", "echo") is None


def test_the_balance_follows_the_latest_answer() -> None:
    tokens = RecentTokens(reuse_seconds=10)
    tokens.balance("http://o", "echo", 5)  # nothing kept: nothing to update
    assert tokens.get("http://o", "echo") is None
    tokens.keep(candidate(balance=100), "echo")
    tokens.balance("http://o", "echo", 40)
    kept = tokens.get("http://o", "echo")
    assert kept is not None and kept.balance_wei == 40


def test_zero_seconds_keeps_nothing() -> None:
    tokens = RecentTokens(reuse_seconds=0)
    tokens.keep(candidate(), "echo")
    assert tokens.get("http://o", "echo") is None
